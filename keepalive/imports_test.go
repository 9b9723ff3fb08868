package keepalive_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The package imports the standard library, x/oauth2 and oauthrt only:
// no provider and no store.
func TestImports(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(pkg, "/")
		switch {
		case !strings.Contains(first, "."): // the standard library
		case pkg == "github.com/oauthrt/oauthrt", pkg == "github.com/oauthrt/oauthrt/keepalive", pkg == "github.com/oauthrt/oauthrt/dpop",
			strings.HasPrefix(pkg, "github.com/oauthrt/oauthrt/internal/"), strings.HasPrefix(pkg, "golang.org/x/oauth2"):
		default:
			t.Errorf("importing keepalive pulls in %s", pkg)
		}
	}
}
