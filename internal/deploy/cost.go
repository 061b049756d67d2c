// Package deploy checks that template.yaml keeps the product's promises
// (its tests), and counts what the template bills by the month whatever
// the traffic: FixedCost.
package deploy

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/wxmedia/wxmedia/pkg/metrics"
)

// Monthly list prices in us-east-1 (aws.amazon.com/cloudwatch/pricing and
// /secrets-manager/pricing, read 2026-11-25), in dollars.
const (
	PriceAlarmMetric = 0.10 // a standard-resolution alarm, per metric it reads (a math expression's each)
	PriceDashboard   = 3.00 // a dashboard
	PriceSecret      = 0.40 // a secret
	PriceSeries      = 0.30 // a custom metric series written in the month (first 10,000)
)

// Fixed is what a template's defaults bill each month at any volume.
type Fixed struct {
	Alarms       []string // the alarms' logical ids
	AlarmMetrics int      // the metrics they read, each billed
	Dashboards   int
	Secrets      int
	Series       []metrics.Series // the custom series the functions write by default
}

// Dollars is f's monthly cost at the list prices above.
func (f Fixed) Dollars() float64 {
	return float64(f.AlarmMetrics)*PriceAlarmMetric + float64(f.Dashboards)*PriceDashboard +
		float64(f.Secrets)*PriceSecret + float64(len(f.Series))*PriceSeries
}

// FixedCost counts the alarm metrics, dashboards and secrets the template
// at path creates, with metrics.DefaultSeries. A billed resource under a
// Condition is an error: whether the defaults create it is not counted
// here.
func FixedCost(path string) (Fixed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fixed{}, err
	}
	var t struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Condition  string `yaml:"Condition"`
			Properties struct {
				MetricName string `yaml:"MetricName"`
				Metrics    []struct {
					MetricStat *yaml.Node `yaml:"MetricStat"`
				} `yaml:"Metrics"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &t); err != nil {
		return Fixed{}, fmt.Errorf("parse %s: %w", path, err)
	}
	f := Fixed{Series: metrics.DefaultSeries()}
	for id, r := range t.Resources {
		switch r.Type {
		case "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SecretsManager::Secret":
			if r.Condition != "" {
				return Fixed{}, fmt.Errorf("%s: %s is created under condition %s", path, id, r.Condition)
			}
		}
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			f.Alarms = append(f.Alarms, id)
			if r.Properties.MetricName != "" {
				f.AlarmMetrics++
			}
			for _, m := range r.Properties.Metrics {
				if m.MetricStat != nil {
					f.AlarmMetrics++
				}
			}
		case "AWS::CloudWatch::Dashboard":
			f.Dashboards++
		case "AWS::SecretsManager::Secret":
			f.Secrets++
		}
	}
	return f, nil
}
