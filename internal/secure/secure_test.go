package secure

import (
	"net/url"
	"testing"
)

func TestAllowed(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://api.example.com/x":     true,
		"HTTPS://API.EXAMPLE.COM/":      true,
		"http://api.example.com/x":      false,
		"http://127.0.0.1:8080/":        true,
		"http://127.9.9.9/":             true,
		"http://[::1]:80/":              true,
		"http://[::ffff:127.0.0.1]/":    true,
		"http://localhost:3000/":        true,
		"http://LOCALHOST./":            true,
		"http://localhost.example.com/": false,
		"http://127.0.0.1.example.com/": false,
		"http://10.0.0.1/":              false,
		"http://[::2]/":                 false,
		"http://0.0.0.0/":               false,
		"ftp://127.0.0.1/":              false,
		"//api.example.com/":            false,
		"http://user:pw@localhost/":     true,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := Allowed(u); got != want {
			t.Errorf("Allowed(%s) = %t, want %t", raw, got, want)
		}
	}
	if Allowed(nil) {
		t.Error("Allowed(nil) = true")
	}
}
