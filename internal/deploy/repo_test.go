package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Serverless Application Repository's metadata names files that
// exist, a license they hold, and the version CHANGELOG.md's latest entry
// gives: what `sam publish` sends.
func TestServerlessRepoMetadata(t *testing.T) {
	app, ok := path(loadTemplate(t), "Metadata", "AWS::ServerlessRepo::Application").(map[string]any)
	if !ok {
		t.Fatal("template.yaml has no Metadata: AWS::ServerlessRepo::Application")
	}
	for _, field := range []string{"Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "HomePageUrl", "SemanticVersion", "SourceCodeUrl"} {
		if s, _ := app[field].(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s is empty", field)
		}
	}
	if labels, _ := app["Labels"].([]any); len(labels) == 0 {
		t.Error("no Labels")
	}
	read := func(field string) string {
		name, _ := app[field].(string)
		b, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Errorf("%s names %q: %v", field, name, err)
		}
		return string(b)
	}
	if license := read("LicenseUrl"); app["SpdxLicenseId"] != "MIT" || !strings.HasPrefix(license, "MIT License") {
		t.Errorf("SpdxLicenseId %v, and a LICENSE that begins %.20q: want MIT in both", app["SpdxLicenseId"], license)
	}
	if readme := read("ReadmeUrl"); !strings.HasPrefix(readme, "# wxmedia") {
		t.Errorf("ReadmeUrl names no README of wxmedia")
	}
	changelog, err := os.ReadFile("../../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## (\d+\.\d+\.\d+)\b`).FindSubmatch(changelog)
	if m == nil || string(m[1]) != app["SemanticVersion"] {
		t.Errorf("SemanticVersion %v, CHANGELOG.md's latest %q: want the same", app["SemanticVersion"], m)
	}
}
