package main

import (
	"os"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/deploy"
)

// The docs' cost section is what make bench generates from the usage it
// last measured (usage.json), the template's MemorySize and fixed cost,
// and the prices in cost.go: a change to any of them without `make bench`
// fails here.
func TestDocsCostTableIsGenerated(t *testing.T) {
	t.Chdir("../..")
	u, err := loadUsage(usageFile)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := templateMemory("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := deploy.FixedCost("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := costDoc()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := withCost(string(data), costTables(u, mem, fixed))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Errorf("%s: the cost section differs from the one generated from %s: run make bench\ngenerated:\n%s", doc, usageFile, costTables(u, mem, fixed))
	}
	for _, w := range costWork {
		if !strings.Contains(string(data), "| "+md(w)+" |") {
			t.Errorf("%s: the cost table has no column for %s", doc, w)
		}
	}
}

// The targets hold for the usage last measured: a million S3-triggered
// uploads at most $10, and the fixed cost at most $5.
func TestCostTargets(t *testing.T) {
	t.Chdir("../..")
	u, err := loadUsage(usageFile)
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := templateMemory("template.yaml")
	if len(u) == 0 || u[0].Work != workTriggered {
		t.Fatalf("usage.json: first work %+v, want %s", u, workTriggered)
	}
	if got := total(perMillion(u[0], mem)); got > variableMax {
		t.Errorf("a million S3-triggered uploads: $%.2f, want at most $%.2f", got, variableMax)
	}
}
