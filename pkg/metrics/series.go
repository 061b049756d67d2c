package metrics

import (
	"fmt"
	"maps"
	"slices"
)

// OutcomeOther is Outcome's value for an answer no alarm watches: a
// success, or an errcode outside AlarmedErrCodes.
const OutcomeOther = 0

// AlarmedErrCode is an errcode the alarms watch, and the value Outcome
// takes for it.
type AlarmedErrCode struct {
	ErrCode int    // the errcode answered
	Value   int    // Outcome's value for it
	Meaning string // what it says to an operator
}

// alarmed are the errcodes the template's alarms and its dashboard read,
// each with its Outcome value (1, 2, 3: never negative, which percentile
// statistics refuse).
var alarmed = []AlarmedErrCode{
	{-1, 1, "WeChat, S3 or Secrets Manager failing after retries"},
	{40164, 2, "WeChat refuses the deployment's egress IP"},
	{45009, 3, "the account's daily quota for an API is spent"},
}

// AlarmedErrCodes are the errcodes the alarms watch through Outcome.
func AlarmedErrCodes() []AlarmedErrCode { return slices.Clone(alarmed) }

// OutcomeOf is Outcome's value for a request answered with errcode.
func OutcomeOf(errcode int) int {
	for _, a := range alarmed {
		if a.ErrCode == errcode {
			return a.Value
		}
	}
	return OutcomeOther
}

// Stat is the CloudWatch statistic that gives a's answers per 100
// requests: the percentile rank of Outcome's values around a.Value.
func (a AlarmedErrCode) Stat() string {
	return fmt.Sprintf("PR(%g:%g)", float64(a.Value)-0.5, float64(a.Value)+0.5)
}

// Series is a metric as CloudWatch files it: a name under one set of
// dimensions. Each series written in a month is billed for that month.
type Series struct {
	Name       string
	Dimensions []string // the dimensions' names; none for the service as a whole
}

// DefaultSeries are the series a Recorder writes without Options.Detailed,
// whatever the traffic: Outcome, for the whole service.
func DefaultSeries() []Series { return []Series{{Outcome, nil}} }

// DetailedSeries are the kinds of series Options.Detailed adds: each is
// written once for every function and route (or errcode and status) that
// happens, so their number grows with the routes served and the errcodes
// answered.
func DetailedSeries() []Series {
	var out []Series
	out = append(out, Series{Requests, nil})
	for _, name := range slices.Sorted(maps.Keys(units)) {
		if name != Outcome && name != Errors {
			out = append(out, Series{name, []string{DimFunction, DimRoute}})
		}
	}
	return append(out, Series{Errors, []string{DimErrCode}}, Series{Errors, []string{DimFunction, DimRoute, DimErrCode, DimStatus}})
}
