package generic_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// seen is what the token endpoint got in one request.
type seen struct {
	Form               url.Values
	BasicUser, BasicPw string // form-decoded, as RFC 6749 §2.3.1 says
	HasBasic           bool
	Authorization      string
}

// tokenServer is a token endpoint. answer decides each response from
// what the request carried.
type tokenServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []seen
}

func newTokenServer(t *testing.T, answer func(s seen) (status int, body string)) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/token" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		s := seen{Form: r.PostForm, Authorization: r.Header.Get("Authorization")}
		if u, p, ok := r.BasicAuth(); ok {
			var err1, err2 error
			s.HasBasic = true
			s.BasicUser, err1 = url.QueryUnescape(u)
			s.BasicPw, err2 = url.QueryUnescape(p)
			if err1 != nil || err2 != nil {
				t.Errorf("Basic credentials not form-encoded: %v %v", err1, err2)
			}
		}
		ts.mu.Lock()
		ts.calls = append(ts.calls, s)
		ts.mu.Unlock()
		status, body := answer(s)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) tokenURL() string { return ts.URL + "/token" }

func (ts *tokenServer) seen() []seen {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]seen(nil), ts.calls...)
}

const tokenBody = `{"access_token":"NEW-AT","token_type":"Bearer","expires_in":3600}`

func ok(seen) (int, string) { return 200, tokenBody }

// fastClient retries with waits short enough for tests.
func fastClient() *http.Client {
	return endpoint.NewRetryClient(1, time.Millisecond, 5*time.Millisecond)
}

func oldToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "OLD-AT", RefreshToken: "OLD-RT", Expiry: time.Now().Add(-time.Minute)}
}

func TestRefreshRequest(t *testing.T) {
	const id, secret = "my id:&+", "s:e c&r+t"
	type config struct {
		ClientID, ClientSecret string
		AuthStyle              oauth2.AuthStyle
		Scopes                 []string
	}
	type test struct {
		name string
		r    config
		want seen
	}
	tests := []test{
		{
			name: "client_secret_basic",
			r:    config{ClientID: id, ClientSecret: secret, AuthStyle: oauth2.AuthStyleInHeader},
			want: seen{
				Form:      url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"OLD-RT"}},
				HasBasic:  true,
				BasicUser: id,
				BasicPw:   secret,
			},
		},
		{
			name: "client_secret_post",
			r:    config{ClientID: id, ClientSecret: secret, AuthStyle: oauth2.AuthStyleInParams},
			want: seen{Form: url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {"OLD-RT"},
				"client_id":     {id},
				"client_secret": {secret},
			}},
		},
		{
			name: "scopes",
			r:    config{ClientID: "id", ClientSecret: "sec", AuthStyle: oauth2.AuthStyleInParams, Scopes: []string{"read", "write"}},
			want: seen{Form: url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {"OLD-RT"},
				"client_id":     {"id"},
				"client_secret": {"sec"},
				"scope":         {"read write"},
			}},
		},
	}
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleAutoDetect, oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		tests = append(tests, test{
			name: fmt.Sprintf("public client, style %d", style),
			r:    config{ClientID: "public-id", AuthStyle: style},
			want: seen{Form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"OLD-RT"}, "client_id": {"public-id"}}},
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t, ok)
			r := &generic.Refresher{
				TokenURL:     ts.tokenURL(),
				ClientID:     tt.r.ClientID,
				ClientSecret: tt.r.ClientSecret,
				AuthStyle:    tt.r.AuthStyle,
				Scopes:       tt.r.Scopes,
				HTTPClient:   fastClient(),
			}
			if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			got := ts.seen()
			if len(got) != 1 {
				t.Fatalf("%d requests, want 1", len(got))
			}
			if diff := cmp.Diff(tt.want, got[0], cmpopts.IgnoreFields(seen{}, "Authorization")); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if !tt.want.HasBasic && got[0].Authorization != "" {
				t.Errorf("Authorization: %q, want none", got[0].Authorization)
			}
		})
	}
}

func TestAutoDetect(t *testing.T) {
	invalidClient := func(s seen) (int, string) {
		if s.HasBasic {
			return 400, `{"error":"invalid_client"}`
		}
		return ok(s)
	}
	unauthorized := func(s seen) (int, string) {
		if s.HasBasic {
			return 401, `Unauthorized`
		}
		return ok(s)
	}
	for name, answer := range map[string]func(seen) (int, string){
		"400 invalid_client":      invalidClient,
		"401 without a JSON body": unauthorized,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTokenServer(t, answer)
			r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret", HTTPClient: fastClient()}
			tok, err := r.Refresh(context.Background(), oldToken())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if tok.AccessToken != "NEW-AT" {
				t.Errorf("AccessToken = %q", tok.AccessToken)
			}
			calls := ts.seen()
			if len(calls) != 2 || !calls[0].HasBasic || calls[1].HasBasic || calls[1].Form.Get("client_secret") != "secret" {
				t.Fatalf("requests %+v, want Basic then the form", calls)
			}

			// Next time, straight to the form.
			if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
				t.Fatalf("second Refresh: %v", err)
			}
			calls = ts.seen()[2:]
			if len(calls) != 1 || calls[0].HasBasic || calls[0].Form.Get("client_secret") != "secret" {
				t.Errorf("second refresh: requests %+v, want one with the form", calls)
			}
		})
	}

	t.Run("remembers the header", func(t *testing.T) {
		ts := newTokenServer(t, ok)
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret", HTTPClient: fastClient()}
		for range 2 {
			if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
		}
		for i, s := range ts.seen() {
			if !s.HasBasic || s.Form.Has("client_secret") {
				t.Errorf("request %d: %+v, want Basic only", i, s)
			}
		}
	})

	t.Run("no fallback once detected", func(t *testing.T) {
		basicWorks := true
		var mu sync.Mutex
		ts := newTokenServer(t, func(s seen) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			if s.HasBasic && !basicWorks {
				return 400, `{"error":"invalid_client"}`
			}
			return ok(s)
		})
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret", HTTPClient: fastClient()}
		if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		basicWorks = false
		mu.Unlock()
		if _, err := r.Refresh(context.Background(), oldToken()); err == nil {
			t.Error("second Refresh fell back to the form")
		}
		if n := len(ts.seen()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})

	for name, answer := range map[string]func(seen) (int, string){
		"invalid_grant":   func(seen) (int, string) { return 400, `{"error":"invalid_grant","error_description":"expired"}` },
		"invalid_request": func(seen) (int, string) { return 400, `{"error":"invalid_request"}` },
	} {
		t.Run("no fallback after "+name, func(t *testing.T) {
			ts := newTokenServer(t, answer)
			r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret", HTTPClient: fastClient()}
			_, err := r.Refresh(context.Background(), oldToken())
			if n := len(ts.seen()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("error %v wraps no RetrieveError", err)
			}
			if re.ErrorCode != name {
				t.Errorf("ErrorCode = %q, want %q", re.ErrorCode, name)
			}
			if got, want := errors.Is(err, oauthrt.ErrReauthRequired), name == "invalid_grant"; got != want {
				t.Errorf("errors.Is(err, ErrReauthRequired) = %v, want %v", got, want)
			}
			if !strings.HasPrefix(err.Error(), "generic: ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestRefreshToken(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     string
		lifetime time.Duration
	}{
		{"kept when absent", `{"access_token":"NEW-AT","expires_in":3600}`, "OLD-RT", time.Hour},
		{"replaced when rotated", `{"access_token":"NEW-AT","refresh_token":"NEW-RT","expires_in":"120"}`, "NEW-RT", 2 * time.Minute},
		{"no expiry", `{"access_token":"NEW-AT"}`, "OLD-RT", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t, func(seen) (int, string) { return 200, tt.body })
			r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret", HTTPClient: fastClient()}
			old := oldToken()
			before := time.Now()
			tok, err := r.Refresh(context.Background(), old)
			after := time.Now()
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if tok.AccessToken != "NEW-AT" || tok.RefreshToken != tt.want {
				t.Errorf("token %q/%q, want NEW-AT/%q", tok.AccessToken, tok.RefreshToken, tt.want)
			}
			if diff := cmp.Diff(oldToken(), old, cmpopts.IgnoreFields(oauth2.Token{}, "Expiry"), cmpopts.IgnoreUnexported(oauth2.Token{})); diff != "" {
				t.Errorf("Refresh modified its argument (-want +got):\n%s", diff)
			}
			switch {
			case tt.lifetime == 0 && !tok.Expiry.IsZero():
				t.Errorf("Expiry = %v, want zero", tok.Expiry)
			case tt.lifetime != 0 && (tok.Expiry.Before(before.Add(tt.lifetime)) || tok.Expiry.After(after.Add(tt.lifetime))):
				t.Errorf("Expiry = %v, want within [%v, %v]", tok.Expiry, before.Add(tt.lifetime), after.Add(tt.lifetime))
			}
		})
	}
}

func TestNoRefreshToken(t *testing.T) {
	ts := newTokenServer(t, ok)
	r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret"}
	for name, tok := range map[string]*oauth2.Token{
		"nil":                nil,
		"empty RefreshToken": {AccessToken: "AT"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Refresh(context.Background(), tok)
			if !errors.Is(err, oauthrt.ErrReauthRequired) {
				t.Errorf("Refresh = %v, want ErrReauthRequired", err)
			}
		})
	}
	if n := len(ts.seen()); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

func TestNoTokenURL(t *testing.T) {
	_, err := (&generic.Refresher{ClientID: "id"}).Refresh(context.Background(), oldToken())
	if err == nil || !strings.HasPrefix(err.Error(), "generic: ") || !strings.Contains(err.Error(), "TokenURL") {
		t.Errorf("Refresh = %v, want a generic: error naming TokenURL", err)
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("%v wraps ErrReauthRequired", err)
	}
}

func TestFromConfig(t *testing.T) {
	c := &oauth2.Config{
		ClientID:     "id",
		ClientSecret: "secret",
		Endpoint:     oauth2.Endpoint{AuthURL: "https://p/auth", TokenURL: "https://p/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  "https://app/cb",
		Scopes:       []string{"read", "write"},
	}
	got := generic.FromConfig(c)
	want := &generic.Refresher{TokenURL: "https://p/token", ClientID: "id", ClientSecret: "secret", AuthStyle: oauth2.AuthStyleInParams}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(generic.Refresher{})); diff != "" {
		t.Errorf("FromConfig (-want +got):\n%s", diff)
	}
	if got.Scopes != nil {
		t.Errorf("Scopes = %v, want nil", got.Scopes)
	}
}

func TestFormattingHidesSecret(t *testing.T) {
	const secret = "CLIENT-SECRET-XYZ"
	r := &generic.Refresher{TokenURL: "https://user:URLPASSWORD@p/token", ClientID: "the-id", ClientSecret: secret}
	for _, s := range []string{
		fmt.Sprintf("%v", r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprintf("%s", r), r.String(), r.GoString(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, "URLPASSWORD") {
			t.Errorf("formatted Refresher contains a secret: %s", s)
		}
		if !strings.Contains(s, "the-id") || !strings.Contains(s, "p/token") || !strings.Contains(s, "AutoDetect") {
			t.Errorf("formatted Refresher lacks its ID, URL or style: %s", s)
		}
	}
}

func TestErrorsHideSecrets(t *testing.T) {
	const rt, secret, at = "REFRESH-TOKEN-123", "CLIENT-SECRET-456", "ACCESS-TOKEN-789"
	echo := fmt.Sprintf("refresh_token=%s client_secret=%s access=%s", rt, secret, at)
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{"json description", 400, "application/json", fmt.Sprintf(`{"error":"invalid_request","error_description":%q}`, echo)},
		{"html", 500, "text/html", "<html>" + echo + "</html>"},
		{"plain", 502, "application/octet-stream", echo},
		{"form", 400, "application/x-www-form-urlencoded", url.Values{"error": {"invalid_client"}, "error_description": {echo}, "client_secret": {secret}}.Encode()},
	}
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleAutoDetect, oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/style %d", tt.name, style), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tt.contentType)
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body)
				}))
				defer srv.Close()
				r := &generic.Refresher{TokenURL: srv.URL, ClientID: "id", ClientSecret: secret, AuthStyle: style, HTTPClient: fastClient()}
				_, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: at, RefreshToken: rt})
				if err == nil {
					t.Fatal("Refresh succeeded")
				}
				texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)}
				var re *oauth2.RetrieveError
				if errors.As(err, &re) {
					texts = append(texts, string(re.Body), re.Error(), re.ErrorDescription)
				} else {
					t.Errorf("%v wraps no RetrieveError", err)
				}
				for _, s := range texts {
					for _, v := range []string{rt, secret, at} {
						if strings.Contains(s, v) {
							t.Errorf("%q leaks %q", s, v)
						}
					}
				}
			})
		}
	}
}

// Under AutoDetect the form is tried after Basic only when the endpoint
// blamed the client. An invalid_grant, even with a 401 (go-oauth2/oauth2
// answers a reused refresh token so), ends the refresh: a dead refresh
// token is presented exactly once.
func TestAutoDetectPresentsARefreshTokenOnce(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		fallback bool // the form is tried, and succeeds
		reauth   bool
	}{
		{"401 invalid_grant", 401, `{"error":"invalid_grant","error_description":"refresh token reused"}`, false, true},
		{"400 invalid_grant", 400, `{"error":"invalid_grant"}`, false, true},
		{"401 invalid_client", 401, `{"error":"invalid_client"}`, true, false},
		{"400 unauthorized_client", 400, `{"error":"unauthorized_client"}`, true, false},
		{"401 without an error code", 401, `{}`, true, false},
		{"401 without JSON", 401, `Unauthorized`, true, false},
		{"400 invalid_request", 400, `{"error":"invalid_request"}`, false, false},
		{"401 invalid_scope", 401, `{"error":"invalid_scope"}`, false, true},
		{"401 unknown code", 401, `{"error":"unauthorized"}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			presented := map[string]int{}
			ts := newTokenServer(t, func(s seen) (int, string) {
				mu.Lock()
				presented[s.Form.Get("refresh_token")]++
				mu.Unlock()
				if s.HasBasic {
					return tt.status, tt.body
				}
				return ok(s)
			})
			r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "id", ClientSecret: "secret", HTTPClient: fastClient()}
			tok, err := r.Refresh(context.Background(), oldToken())
			mu.Lock()
			n := presented["OLD-RT"]
			mu.Unlock()
			if tt.fallback {
				if err != nil || tok.AccessToken != "NEW-AT" {
					t.Fatalf("Refresh = %v, %v; want the form to be tried and succeed", tok, err)
				}
				if calls := ts.seen(); n != 2 || len(calls) != 2 || calls[1].HasBasic || calls[1].Form.Get("client_secret") != "secret" {
					t.Errorf("refresh token presented %d times in %+v, want Basic then the form", n, calls)
				}
				return
			}
			if err == nil {
				t.Fatal("Refresh succeeded; want the endpoint's error")
			}
			if n != 1 {
				t.Errorf("refresh token presented %d times, want exactly once", n)
			}
			if got := errors.Is(err, oauthrt.ErrReauthRequired); got != tt.reauth {
				t.Errorf("errors.Is(%v, ErrReauthRequired) = %v, want %v", err, got, tt.reauth)
			}
		})
	}
}

// The package documentation and the AuthStyle field say the same thing
// about when AutoDetect falls back to the form.
func TestAutoDetectDocsAgree(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range []string{"doc.go", "refresher.go"} {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/oauthrt/oauthrt/generic")
	if err != nil {
		t.Fatal(err)
	}
	var field string
	for _, typ := range p.Types {
		if typ.Name != "Refresher" {
			continue
		}
		for _, spec := range typ.Decl.Specs {
			for _, f := range spec.(*ast.TypeSpec).Type.(*ast.StructType).Fields.List {
				if len(f.Names) == 1 && f.Names[0].Name == "AuthStyle" {
					field = f.Doc.Text()
				}
			}
		}
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for name, text := range map[string]string{"package doc": flat(p.Doc), "AuthStyle doc": flat(field)} {
		for _, want := range []string{"invalid_client or unauthorized_client", "a 401 with no error code", "invalid_grant"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not say %q:\n%s", name, want, text)
			}
		}
		if strings.Contains(text, "invalid_client, or a 401)") {
			t.Errorf("%s still says any 401 makes AutoDetect try the form", name)
		}
	}
}

// The claims of a claims challenge, which the Transport puts in the
// refresh's context, go in the form as the claims parameter (OpenID
// Connect Core §5.5), for a refresh and an exchange alike; a context
// without them, or with "", sends none.
func TestClaimsParameter(t *testing.T) {
	const claims = `{"access_token":{"nbf":{"essential":true,"value":"1764460800"}}}`
	ts := newTokenServer(t, ok)
	r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "app", HTTPClient: fastClient()}
	ctx := oauthrt.WithClaimsChallenge(context.Background(), claims)
	if _, err := r.Refresh(ctx, oldToken()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := r.Exchange(ctx, "CODE", "", ""); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := r.Refresh(oauthrt.WithClaimsChallenge(ctx, ""), oldToken()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	got := ts.seen()
	for i, want := range []string{claims, claims, "", ""} {
		if c := got[i].Form.Get("claims"); c != want || got[i].Form.Has("claims") != (want != "") {
			t.Errorf("request %d: claims %q, want %q", i, c, want)
		}
	}
}
