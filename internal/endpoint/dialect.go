package endpoint

import "slices"

// A Dialect is how an endpoint words its error answers beyond RFC 6749
// §5.2. It is generic.Dialect, whose doc says what its fields mean; the
// zero Dialect is RFC 6749's, with GitHub's bad_refresh_token.
type Dialect struct {
	DeadCodes   []string
	CodeMembers []string
	ClientCodes []string
}

// blamesClient reports whether code says the client, not the grant, is at
// fault: invalid_client or unauthorized_client (RFC 6749 §5.2), or one of
// ClientCodes.
func (d Dialect) blamesClient(code string) bool {
	return code == "invalid_client" || code == "unauthorized_client" || slices.Contains(d.ClientCodes, code)
}

// deadCode reports whether code says the grant is dead: invalid_grant,
// GitHub's bad_refresh_token, or one of DeadCodes, unless it blames the
// client.
func (d Dialect) deadCode(code string) bool {
	if code == "" || d.blamesClient(code) {
		return false
	}
	return code == "invalid_grant" || code == "bad_refresh_token" || slices.Contains(d.DeadCodes, code)
}

// dead reports whether an answer with status and code says the grant is
// dead: a dead code, or a 401 whose code does not blame the client.
func (d Dialect) dead(status int, code string) bool {
	return d.deadCode(code) || (status == 401 && !d.blamesClient(code))
}

// rejectsClient reports whether an answer with status and code rejects
// the client: a code that blames it, or a 401 with no code at all.
func (d Dialect) rejectsClient(status int, code string) bool {
	if code != "" {
		return d.blamesClient(code)
	}
	return status == 401
}

// codeIn returns the error code that fields carry in one of CodeMembers,
// the first that holds a non-empty string, and a description from the
// "message" member beside it; "" when none does. A 2xx answer that
// carries an access token has no such code: a member of a token answer
// named like one (a "status" beside the token) does not make it an error.
func (d Dialect) codeIn(fields map[string]any, status int) (code, desc string) {
	if len(d.CodeMembers) == 0 {
		return "", ""
	}
	if at, _ := fields["access_token"].(string); at != "" && status >= 200 && status <= 299 {
		return "", ""
	}
	for _, m := range d.CodeMembers {
		if s, _ := fields[m].(string); s != "" {
			desc, _ := fields["message"].(string)
			return s, desc
		}
	}
	return "", ""
}

// codeMember reports whether a top-level member k of an answer is one of
// CodeMembers, whose value is an error code and never a credential.
func (d Dialect) codeMember(k string) bool { return slices.Contains(d.CodeMembers, k) }
