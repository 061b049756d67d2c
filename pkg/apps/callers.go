package apps

import (
	"context"
	"slices"
	"strings"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
)

// Caller is who made a request, as API Gateway's authorizer vouched.
type Caller struct {
	// ARN is the IAM principal's (AuthMode=IAM); "" otherwise.
	ARN string
	// Claims are the JWT's claims (AuthMode=JWT); nil otherwise.
	Claims map[string]string
}

type callerKey struct{}

// WithCaller notes who made the request in ctx: from then on, resolving
// an app refuses the apps that caller may not use. Work that no caller
// asked for (S3 events, direct invocations, which IAM allowed to invoke
// the function) notes none and may use every app.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// permit refuses app id to the caller in ctx, if one is noted and the
// deployment binds callers: by the secret's "callers" (IAM principal ARN
// patterns) or by the JWT claim Options.AppsClaim names.
func (r *Registry) permit(ctx context.Context, sec token.Secret, id string) error {
	c, ok := ctx.Value(callerKey{}).(Caller)
	if !ok {
		return nil
	}
	var allowed []string
	switch {
	case r.opts.AppsClaim != "":
		// A claim names apps one by one: "*" there is no wildcard, so a
		// claim a user could set never grants every app.
		allowed = slices.DeleteFunc(claimedApps(c.Claims[r.opts.AppsClaim]), func(id string) bool { return id == "*" })
	case len(sec.Callers) > 0:
		for pattern, ids := range sec.Callers {
			if c.ARN != "" && glob(pattern, c.ARN) {
				allowed = append(allowed, ids...)
			}
		}
	default:
		r.unbound.Do(func() {
			if len(sec.Apps) > 1 || sec.Component != nil {
				r.opts.Logger.WarnContext(ctx, `callers are not bound to apps: any caller may use every app of this deployment; `+
					`set "callers" in the secret (AuthMode=IAM) or the JwtAppsClaim parameter (AuthMode=JWT)`)
			}
		})
		return nil
	}
	if slices.Contains(allowed, id) || slices.Contains(allowed, "*") {
		return nil
	}
	return failure.New(failure.Caller, failure.CodeInvalidAppID, "invalid appid: this caller may not use app %s", token.ShownAppID(id))
}

// claimedApps reads a JWT claim that lists AppIDs: as API Gateway passes
// an array claim ("[wxA wxB]"), or separated by spaces or commas.
func claimedApps(v string) []string {
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "["), "]")
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
}

// glob reports whether s matches pattern, in which "*" matches any run of
// characters (slashes too, as in IAM's ARN patterns) and every other
// character itself.
func glob(pattern, s string) bool {
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p, i = p+1, i+1
		case star >= 0: // let the last star take one more character
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	return strings.Trim(pattern[p:], "*") == ""
}
