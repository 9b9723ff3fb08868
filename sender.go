package oauthrt

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/oauthrt/oauthrt/dpop"
)

// Sender-constrained tokens: a token whose type is DPoP (RFC 9449) goes
// out as "Authorization: DPoP <token>", with a proof signed by the key
// its grant carries (see package dpop) in the DPoP header of every
// request. The servers' nonces are kept per origin, taken from every
// answer's DPoP-Nonce header, and put in the next proofs; a 401 that asks
// for a nonce (use_dpop_nonce) is sent once more with it.

// dpopToken is what a DPoP-bound token is sent with.
type dpopToken struct {
	// prover signs the proofs; nil when the token cannot be sent, and
	// unusable says why: a DPoP token without a usable key.
	prover   *dpop.Prover
	unusable error
}

// senderConstrain prepares c, a new cached token, for DPoP when its type
// says so: its Authorization scheme, and the Prover of its grant's key.
// A DPoP token whose grant has no usable key cannot be sent: its
// dpopToken's unusable says why, and requests fail with it rather than send a token the
// server would refuse. It wraps ErrReauthRequired: a bound token is no
// use without its key, and only a new authorization gives the grant
// another.
func senderConstrain(c *cached) {
	tok := &c.tok
	if !strings.EqualFold(tok.TokenType, dpop.TokenType) {
		return
	}
	c.authz[0] = dpop.TokenType + " " + tok.AccessToken
	d := new(dpopToken)
	c.more().dpop = d
	key, err := dpop.KeyOf(tok)
	switch {
	case err != nil:
		d.unusable = fmt.Errorf("oauthrt: the token is DPoP-bound, and its DPoP key is unusable (%w): %w", err, ErrReauthRequired)
		return
	case key == nil:
		d.unusable = fmt.Errorf("oauthrt: the token is DPoP-bound (token_type DPoP) but carries no DPoP key: get it with a Refresher whose DPoP is set, or keep the key with it (dpop.Bind): %w", ErrReauthRequired)
		return
	}
	if d.prover, err = dpop.NewProver(key); err != nil {
		d.unusable = fmt.Errorf("oauthrt: the token's DPoP key (%w): %w", err, ErrReauthRequired)
	}
}

// prove adds a DPoP proof for r, a clone of a request about to carry c's
// token, when c is DPoP-bound, and returns the nonce the proof carries
// ("" for none).
func (t *Transport) prove(r *http.Request, c *cached) (nonce string, err error) {
	d := c.dpop()
	if d == nil || d.prover == nil {
		return "", nil
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	nonce = t.nonces.Get(r.URL)
	proof, err := d.prover.Proof(method, r.URL, c.tok.AccessToken, nonce)
	if err != nil {
		return "", fmt.Errorf("oauthrt: %w", err)
	}
	r.Header["Dpop"] = []string{proof}
	return nonce, nil
}

// send sends r, a clone of req carrying c's token whose DPoP proof, if
// any, carried the nonce sent, through Base. When the token is
// DPoP-bound, the server's nonce in the answer is recorded, and a 401
// that asks for one (a DPoP challenge with use_dpop_nonce, RFC 9449 §9)
// gets req sent once more, its body replayed, with a proof carrying the
// newest nonce: the answer's, or one another request learned while this
// one was under way. The answer comes back as it is when the body cannot
// be replayed, when the server asks again, or when no nonce other than
// the one sent is known: a server that asks for the nonce it was given is
// not asked again.
func (t *Transport) send(req, r *http.Request, sent string, c *cached) (*http.Response, error) {
	resp, err := t.base().RoundTrip(r)
	if err != nil || resp == nil || c.dpop() == nil {
		return resp, err
	}
	t.nonces.Update(req.URL, resp.Header)
	if !nonceChallenge(resp) || t.nonces.Get(req.URL) == sent {
		return resp, nil
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	drainAndClose(resp.Body)
	again, _, err := t.authorizeReplay(req, c, body)
	if err != nil {
		return nil, err
	}
	resp, err = t.base().RoundTrip(again)
	if err == nil && resp != nil {
		t.nonces.Update(req.URL, resp.Header)
	}
	return resp, err
}

// nonceChallenge reports whether resp is a 401 whose DPoP challenge says
// use_dpop_nonce.
func nonceChallenge(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	for _, c := range parseChallenges(resp.Header.Values("Www-Authenticate")) {
		if strings.EqualFold(c.scheme, dpop.TokenType) && c.params["error"] == "use_dpop_nonce" {
			return true
		}
	}
	return false
}
