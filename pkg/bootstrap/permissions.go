package bootstrap

import (
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/platform"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// Permission is one IAM grant a function needs: an action on the media
// bucket (Resource ""), on the objects under a prefix ("<prefix>*"), or on
// the app's secret (ResourceSecret).
type Permission struct{ Action, Resource string }

// The resources that are no bucket prefix, as a Permission's Resource.
const (
	ResourceSecret   = "secret"    // the app's secret
	ResourceEventBus = "event-bus" // the completion events' bus (EventBusName)
	// ResourceTokenTable is the third-party platform's shared token table.
	ResourceTokenTable = "token-table"
)

// PublishAction is the IAM action of the completion events.
const PublishAction = "events:PutEvents"

// Permissions are exactly what function route's code calls ("upload",
// "uploadimg", "get" or "component", by the routes it serves), added up
// from the tables next to those calls (bucket, ledger, transfer, token,
// platform). template.yaml must grant exactly these; internal/deploy
// checks it.
func Permissions(route string, c Config) []Permission {
	out := []Permission{{Action: token.SecretAction, Resource: ResourceSecret}}
	if route == routes.Component {
		// The platform's pushes: its token and key are in the secret; a
		// ticket, an authorization or its withdrawal is written to the table.
		for _, a := range platform.TableActions(true) {
			out = append(out, Permission{Action: a, Resource: ResourceTokenTable})
		}
		return out
	}
	var uses []bucket.Use
	switch route {
	case routes.Upload:
		uses = append(transfer.UploadUses(c.AllowedPrefixes), transfer.FormUses(transfer.APIUpload)...)
	case routes.UploadImg:
		uses = append(transfer.UploadUses(c.AllowedPrefixes), transfer.FormUses(transfer.APIUploadImg)...)
	case routes.Get:
		uses = append(transfer.FetchUses(c.AllowedPrefixes), transfer.OutcomeUses()...)
	default:
		panic("bootstrap: no function " + route)
	}
	if route != routes.Get {
		uses = append(uses, ledger.Uses(transfer.NewKeyPolicy(c.AllowedPrefixes).Prefixes())...)
	}
	for _, g := range bucket.Grants(uses) {
		out = append(out, Permission{Action: g.Action, Resource: g.Resource})
	}
	if route != routes.Get {
		out = append(out, Permission{Action: PublishAction, Resource: ResourceEventBus}) // each result recorded
	}
	// Every media function may act for an authorizer.
	for _, a := range platform.TableActions(false) {
		out = append(out, Permission{Action: a, Resource: ResourceTokenTable})
	}
	return out
}
