// Package deploy holds checks of the SAM template's promises; no runtime code.
//
// Its tests read ../../template.yaml and assert what the design promises about
// the deployment: the three functions and how they are built, which S3 prefixes
// trigger them, that every HTTP route is authorized unless AuthMode=NONE, and
// that every IAM statement stays inside the media bucket and the WeChat secret.
// They also run cfn-lint, and fail when it is missing.
package deploy
