package azdevops_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
)

// orgs numbers the fake organizations, so that no two in one process
// share a URL: the SDK caches each URL's API locations for good.
var orgs atomic.Int64

// fakeAzureDevOps serves what the SDK asks of an organization to get a
// project: the API locations (OPTIONS _apis), the resource areas, and
// the project. It returns the handler and the organization's path.
func fakeAzureDevOps() (http.Handler, string) {
	org := fmt.Sprintf("/fabrikam%d", orgs.Add(1))
	mux := http.NewServeMux()
	mux.HandleFunc("OPTIONS "+org+"/_apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, `{"count":2,"value":[
			{"id":"e81700f7-3be2-46de-8624-2eb35882fcaa","area":"Location","resourceName":"ResourceAreas",
			 "routeTemplate":"_apis/{resource}/{areaId}","minVersion":"3.2","maxVersion":"7.2",
			 "releasedVersion":"0.0","resourceVersion":1},
			{"id":"603fe2ac-9723-48b9-88ad-09305aa6c6e1","area":"core","resourceName":"projects",
			 "routeTemplate":"_apis/{resource}/{*projectId}","minVersion":"1.0","maxVersion":"7.2",
			 "releasedVersion":"7.1","resourceVersion":4}]}`)
	})
	mux.HandleFunc("GET "+org+"/_apis/ResourceAreas", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, fmt.Sprintf(`{"count":1,"value":[{"id":%q,"name":"core","locationUrl":"http://%s%s/"}]}`,
			core.ResourceAreaId, r.Host, org))
	})
	mux.HandleFunc("GET "+org+"/_apis/projects/{project}", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "api-version=7.1-preview.4") {
			http.Error(w, "no api-version", http.StatusBadRequest)
			return
		}
		writeJSON(w, fmt.Sprintf(`{"id":"eb6e4656-77fc-42a1-9181-4c6d8e9da5d1","name":%q,"state":"wellFormed","visibility":"private"}`,
			r.PathValue("project")))
	})
	return mux, org
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write([]byte(body))
}
