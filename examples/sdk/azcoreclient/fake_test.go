package azcoreclient_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/oauthrt/oauthrt/examples/sdk/azcoreclient"
)

// fakeARM answers PUT of a resource group as Azure Resource Manager does,
// checking the api-version and the body. Each time unavailable is above
// zero it is decremented and the request answered 503 instead.
func fakeARM(unavailable *atomic.Int32) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /subscriptions/{sub}/resourcegroups/{name}", func(w http.ResponseWriter, r *http.Request) {
		if unavailable != nil && unavailable.Add(-1) >= 0 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		var rg azcoreclient.ResourceGroup
		if r.URL.Query().Get("api-version") != "2021-04-01" || json.NewDecoder(r.Body).Decode(&rg) != nil || rg.Location == "" {
			http.Error(w, `{"error":{"code":"InvalidRequestContent"}}`, http.StatusBadRequest)
			return
		}
		rg.ID = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", r.PathValue("sub"), r.PathValue("name"))
		rg.Name = r.PathValue("name")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rg)
	})
	return mux
}
