package oauthrt_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Importing oauthrt must pull in x/oauth2 and the standard library only:
// the stores' drivers stay in their own packages.
func TestRootImportsNoDriver(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(pkg, "/")
		switch {
		case !strings.Contains(first, "."): // the standard library
		case pkg == "github.com/oauthrt/oauthrt", pkg == "github.com/oauthrt/oauthrt/dpop",
			strings.HasPrefix(pkg, "github.com/oauthrt/oauthrt/internal/"), strings.HasPrefix(pkg, "golang.org/x/oauth2"):
		default:
			t.Errorf("importing oauthrt pulls in %s", pkg)
		}
	}
}
