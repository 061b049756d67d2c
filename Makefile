# wxmedia — see README.md and docs/. The two commands a newcomer needs: `make local`, `make test`.

SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/.bin
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := $(BIN)/aws-lambda-rie
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
# The regions cfn-lint checks the template for: us-east-1, and those nearest WeChat (China's
# partition, and Hong Kong).
LINT_REGIONS := us-east-1 cn-north-1 cn-northwest-1 ap-east-1
# sam build sets ARTIFACTS_DIR; run without SAM it defaults to a local folder.
ARTIFACTS_DIR ?= $(CURDIR)/.build/out

# Each function of template.yaml (its logical id) and the folder of functions/ its code is.
# ResultFunction runs get's code: its own function only for its own concurrency, so that
# result's waits never hold get's.
FUNCTIONS := UploadFunction GetFunction UploadImgFunction ComponentFunction ResultFunction
dir_UploadFunction := upload
dir_GetFunction := get
dir_UploadImgFunction := uploadimg
dir_ComponentFunction := component
dir_ResultFunction := get

.PHONY: help all build test unit lint local invoke redrive bench fuzz tools clean register-authorizer $(addprefix build-,$(FUNCTIONS))

# Bare `make` prints the targets, each with the line after its "##".
help: ## these targets, one line each (go run ./cmd/local -h: make local's settings)
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

all: build ## the same as make build

# The targets `sam build` calls (BuildMethod: makefile): an arm64 bootstrap in $(ARTIFACTS_DIR).
$(addprefix build-,$(FUNCTIONS)): build-%:
	mkdir -p "$(ARTIFACTS_DIR)"
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/$(dir_$*)

# Each into .build/<LogicalId>/bootstrap, sizes printed.
build: ## the five functions' arm64 bootstraps into .build/, sizes printed
	@for f in $(FUNCTIONS); do $(MAKE) --no-print-directory build-$$f ARTIFACTS_DIR=$(CURDIR)/.build/$$f >/dev/null || exit 1; done
	@for f in $(FUNCTIONS); do printf '%-20s %s bytes (linux/arm64)\n' $$f $$(stat -c %s .build/$$f/bootstrap); done

# The tools the tests need: the Lambda Runtime Interface Emulator (go install,
# pinned), moto_server, cfn-lint and the AWS CLI (from the machine's Python), curl and jq.
tools: $(RIE) ## install the Lambda RIE; check moto_server, cfn-lint, the AWS CLI, curl and jq are there
	@command -v moto_server >/dev/null || { echo "moto_server not found: pip install 'moto[server]'" >&2; exit 1; }
	@command -v cfn-lint >/dev/null || { echo "cfn-lint not found: pip install cfn-lint" >&2; exit 1; }
	@command -v aws >/dev/null || { echo "aws (the AWS CLI, which the tests run as a user does) not found: pip install awscli" >&2; exit 1; }
	@command -v curl >/dev/null && command -v jq >/dev/null || { echo "curl and jq (the docs' examples, which make test runs) are needed: install them with your package manager" >&2; exit 1; }

.bin/aws-lambda-rie: $(RIE)
$(RIE):
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

# Unit and integration tests (race detector on), cfn-lint on the template,
# every fuzz seed corpus, and the arm64 builds.
test: tools ## every test (the one command CI runs): unit, integration on moto and the RIE, lint, builds
	gofmt -l . | (! grep .) || { echo "gofmt: files above need formatting" >&2; exit 1; }
	$(GO) vet ./...
	cfn-lint --regions $(LINT_REGIONS) -- template.yaml
	PATH=$(BIN):$$PATH WXMEDIA_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 8m ./pkg/... ./internal/... ./functions/...
	# cmd/ tests run go build themselves: one package at a time, so no build runs beside them.
	PATH=$(BIN):$$PATH WXMEDIA_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 5m -p 1 ./cmd/...
	# Drop-in: unmodified third-party WeChat SDKs, Go and Node (npm ci installs compat/node's),
	# against make local, and the cloud call through the RIE, in a module of its own.
	cd compat/node && npm ci --no-audit --no-fund --loglevel=error
	cd compat && $(GO) vet ./... && PATH=$(BIN):$$PATH $(GO) test -race -count=1 -timeout 5m ./...
	$(MAKE) --no-print-directory build

unit: ## the quick tests alone (-short), no emulators
	$(GO) test -race -count=1 -short ./...

lint: ## gofmt, go vet and cfn-lint
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	cfn-lint --regions $(LINT_REGIONS) -- template.yaml

# The whole HTTP contract on 127.0.0.1:3000, with embedded S3 and WeChat.
local: ## the whole product on 127.0.0.1 (HTTP API, S3, Secrets Manager, WeChat simulator)
	$(GO) build -o .build/local ./cmd/local && exec .build/local

# Run one function's bootstrap under the Lambda RIE with an event, like `sam local invoke`.
FN ?= upload
EVENT ?= events/s3-put-upload-image.json
invoke: $(RIE) ## a function's bootstrap under the Lambda RIE with an event: FN=upload EVENT=events/…
	$(GO) run ./cmd/invoke -fn $(FN) -event $(EVENT) -rie $(RIE)

# make local's failed-events queue (S3-triggered invocations that failed after Lambda's two
# retries) sent to their functions again; LOCAL_PORT picks the make local, as for make invoke.
redrive: ## send make local's failed S3 events again (GET /_local/failed-events lists them)
	@curl -fsS -X POST "http://127.0.0.1:$${LOCAL_PORT:-3000}/_local/failed-events/redrive"

# The benchmarks of docs/benchmarks.md's table: prints it, writes .bench/results.md and .bench/memory.svg.
bench: $(RIE) ## the benchmarks and the cost table (docs/benchmarks.md, docs/operations.md); writes .bench/
	$(GO) run ./cmd/benchreport -go $(GO) -rie $(RIE)

# A third-party platform's authorizer registered by hand (its event URL points elsewhere): the
# refresh token on standard input, into the stack's token table. See docs/apps-and-platforms.md.
register-authorizer: ## a platform authorizer's refresh token (stdin) into the token table: APPID= TABLE= SECRET=
	@test -n "$(APPID)" -a -n "$(TABLE)" -a -n "$(SECRET)" || { echo "usage: printf %s \"\$$REFRESH_TOKEN\" | make register-authorizer APPID=wx… TABLE=<TokenTable> SECRET=<SecretArn>" >&2; exit 2; }
	$(GO) run ./cmd/authorizer -appid "$(APPID)" -table "$(TABLE)" -secret "$(SECRET)"

FUZZTIME ?= 30s
fuzz: ## run each fuzz target a while
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include '*_test.go' pkg | sed 's/func //'); do \
		pkg=$$(grep -rlE "^func $$t\(" --include '*_test.go' pkg | head -1 | xargs dirname); \
		echo "== $$t ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

clean: ## remove .build and .aws-sam
	rm -rf .build .aws-sam
