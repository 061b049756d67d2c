// Package emftest decodes CloudWatch Embedded Metric Format (EMF) documents
// for tests, checking each against the specification: a JSON object with
// an _aws member holding a Timestamp (milliseconds since the epoch) and
// CloudWatchMetrics, a list of directives {Namespace, Dimensions,
// Metrics:[{Name, Unit}]}; dimension sets of at most 30 keys, each a
// top-level member whose value is a string; each metric a top-level member
// holding a number or up to 100 numbers, of its declared unit.
package emftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Units are the units EMF (CloudWatch's StandardUnit) accepts.
var Units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true, "Megabits": true,
	"Gigabits": true, "Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true,
	"Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true,
	"Terabits/Second": true, "Count/Second": true, "None": true,
}

// Directive is one of a document's metric directives.
type Directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []Metric
}

// Metric is a metric definition.
type Metric struct{ Name, Unit string }

// Doc is one decoded, checked document.
type Doc struct {
	Timestamp  int64
	Directives []Directive
	Members    map[string]any // the root node
}

// Decode reads one EMF document from a log line and checks it.
func Decode(line []byte) (Doc, error) {
	var members map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&members); err != nil {
		return Doc{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return Doc{}, fmt.Errorf("data after the JSON object")
	}
	var raw struct {
		AWS *struct {
			Timestamp         *json.Number `json:"Timestamp"`
			CloudWatchMetrics *[]struct {
				Namespace  *string     `json:"Namespace"`
				Dimensions *[][]string `json:"Dimensions"`
				Metrics    *[]struct {
					Name              *string      `json:"Name"`
					Unit              *string      `json:"Unit"`
					StorageResolution *json.Number `json:"StorageResolution"`
				} `json:"Metrics"`
			} `json:"CloudWatchMetrics"`
		} `json:"_aws"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Doc{}, fmt.Errorf("_aws: %w", err)
	}
	if raw.AWS == nil || raw.AWS.Timestamp == nil || raw.AWS.CloudWatchMetrics == nil {
		return Doc{}, fmt.Errorf("_aws needs Timestamp and CloudWatchMetrics")
	}
	ts, err := raw.AWS.Timestamp.Int64()
	if err != nil || ts <= 0 {
		return Doc{}, fmt.Errorf("_aws.Timestamp %s: want milliseconds since the epoch", raw.AWS.Timestamp)
	}
	doc := Doc{Timestamp: ts, Members: members}
	if len(*raw.AWS.CloudWatchMetrics) == 0 {
		return Doc{}, fmt.Errorf("no CloudWatchMetrics directive")
	}
	for i, d := range *raw.AWS.CloudWatchMetrics {
		where := fmt.Sprintf("CloudWatchMetrics[%d]", i)
		if d.Namespace == nil || len(*d.Namespace) == 0 || len(*d.Namespace) > 255 || strings.TrimSpace(*d.Namespace) != *d.Namespace {
			return Doc{}, fmt.Errorf("%s: Namespace %v: want 1 to 255 characters", where, d.Namespace)
		}
		if d.Dimensions == nil || d.Metrics == nil {
			return Doc{}, fmt.Errorf("%s: needs Dimensions and Metrics", where)
		}
		dir := Directive{Namespace: *d.Namespace, Dimensions: *d.Dimensions}
		for _, set := range dir.Dimensions {
			if len(set) > 30 {
				return Doc{}, fmt.Errorf("%s: a dimension set of %d keys, more than 30", where, len(set))
			}
			for _, k := range set {
				if v, ok := members[k].(string); !ok || v == "" || len(v) > 1024 {
					return Doc{}, fmt.Errorf("%s: dimension %q: want a top-level string member of 1 to 1024 characters, got %#v", where, k, members[k])
				}
			}
		}
		if len(*d.Metrics) == 0 || len(*d.Metrics) > 100 {
			return Doc{}, fmt.Errorf("%s: %d metrics, want 1 to 100", where, len(*d.Metrics))
		}
		for _, m := range *d.Metrics {
			if m.Name == nil || *m.Name == "" || len(*m.Name) > 1024 {
				return Doc{}, fmt.Errorf("%s: a metric without a Name", where)
			}
			unit := "None"
			if m.Unit != nil {
				unit = *m.Unit
			}
			if !Units[unit] {
				return Doc{}, fmt.Errorf("%s: metric %s: unit %q is not an EMF unit", where, *m.Name, unit)
			}
			if r := m.StorageResolution; r != nil && r.String() != "1" && r.String() != "60" {
				return Doc{}, fmt.Errorf("%s: metric %s: StorageResolution %s, want 1 or 60", where, *m.Name, r)
			}
			if _, err := values(members[*m.Name], unit); err != nil {
				return Doc{}, fmt.Errorf("%s: metric %s: %w", where, *m.Name, err)
			}
			dir.Metrics = append(dir.Metrics, Metric{Name: *m.Name, Unit: unit})
		}
		doc.Directives = append(doc.Directives, dir)
	}
	return doc, nil
}

// values are a metric member's values, checked against its unit.
func values(v any, unit string) ([]float64, error) {
	var nums []json.Number
	switch v := v.(type) {
	case json.Number:
		nums = []json.Number{v}
	case []any:
		if len(v) == 0 || len(v) > 100 {
			return nil, fmt.Errorf("%d values, want 1 to 100", len(v))
		}
		for _, item := range v {
			n, ok := item.(json.Number)
			if !ok {
				return nil, fmt.Errorf("value %#v is not a number", item)
			}
			nums = append(nums, n)
		}
	default:
		return nil, fmt.Errorf("no top-level number member (got %#v)", v)
	}
	var out []float64
	for _, n := range nums {
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("value %s is not a finite number", n)
		}
		if f < 0 {
			return nil, fmt.Errorf("value %s: a %s is never negative", n, unit)
		}
		if (unit == "Count" || unit == "Bytes") && f != math.Trunc(f) {
			return nil, fmt.Errorf("value %s: want a whole number of %s", n, unit)
		}
		out = append(out, f)
	}
	return out, nil
}

// DecodeLines decodes every non-empty line of text as an EMF document.
func DecodeLines(text []byte) ([]Doc, error) {
	var docs []Doc
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		d, err := Decode(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %s", n, err, sc.Bytes())
		}
		docs = append(docs, d)
	}
	return docs, sc.Err()
}

// Series is a metric under one dimension set with its values, as
// CloudWatch would file it: "Name{Key=Value,…}" with the keys sorted.
func Series(name string, dims map[string]string) string {
	keys := slices.Sorted(maps.Keys(dims))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + dims[k]
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Sums adds up every document's values into the series CloudWatch would
// extract: for each directive, each metric under each of its dimension
// sets. Samples (Milliseconds) add up too; Counts counts them.
func Sums(docs []Doc) (sums map[string]float64, counts map[string]int) {
	sums, counts = map[string]float64{}, map[string]int{}
	for _, d := range docs {
		for _, dir := range d.Directives {
			for _, set := range dir.Dimensions {
				dims := map[string]string{}
				for _, k := range set {
					dims[k] = d.Members[k].(string)
				}
				for _, m := range dir.Metrics {
					vs, _ := values(d.Members[m.Name], m.Unit)
					key := Series(m.Name, dims)
					for _, v := range vs {
						sums[key] += v
						counts[key]++
					}
				}
			}
		}
	}
	return sums, counts
}
