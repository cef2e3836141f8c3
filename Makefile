# Every command of the project goes through here or npm scripts; a fresh clone needs nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM_STAMP := node_modules/.deps-stamp
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP) ## install npm dependencies (Node 24 comes with them)

build: deps ## bundle the CLI as it ships into dist/ (esbuild)
	npm run -s build

typecheck: deps ## type-check everything
	npm run -s typecheck

crds: deps ## regenerate crds/ from the zod schema
	npm run -s crds

# test-image needs root and Debian's packages (as CI has); about a minute, warm or cold (README, "The image").
test: test-unit test-image test-e2e test-reliability ## every test: unit, the image run confined, e2e and the fault suite

test-unit: deps lint helm ## fast tests, no cluster (after the type check, the format check and the linter)
	npm run -s test:unit

lint: deps ## type check, format check (prettier), linter (eslint, type-aware), dead code (knip)
	npm run -s typecheck
	npm run -s format:check
	npm run -s lint
	npm run -s deadcode

fmt: deps ## format the code and apply the linter's safe fixes
	npm run -s format
	npm run -s lint -- --fix

test-e2e: deps binaries build ## e2e tests against a real kube-apiserver + KWOK GPU nodes (the operator runs from the bundle)
	npm run -s test:e2e

test-reliability: deps binaries build ## the fault suite: e2e tests that kill, freeze and cut off the operator and the control plane
	npm run -s test:reliability

binaries: ## build kube-apiserver, etcd, KCM, scheduler, kubectl, kwok, Prometheus from Go modules; KEDA's CRD (all cached outside the repo)
	bash test/cluster/build-binaries.sh
	bash test/cluster/tools.sh
	bash test/cluster/build-prometheus.sh >/dev/null
	bash test/cluster/keda-crd.sh >/dev/null

helm: ## fetch helm into the cache (the chart tests run it)
	HELM_ONLY=1 bash test/cluster/tools.sh

cluster-up: deps binaries ## start the local control plane (.cluster/kubeconfig)
	bash test/cluster/up.sh

cluster-down: ## stop the local control plane
	bash test/cluster/down.sh

image: deps build ## the operator image as an OCI archive in .image/ (no daemon; same contents as the Dockerfile)
	bash image/build.sh

test-image: image ## unpack the image and run its CLI as UID 65532 in a confined root (bubblewrap)
	bash test/image/tools.sh
	npm run -s test:image

test-chart: deps helm ## helm lint --strict and the chart's helm template tests (part of test-unit too)
	npm run -s test:chart

demo: deps binaries build ## the main job: control plane, GPU nodes, operator, a DeepSeekDeployment under load
	bash test/demo/demo.sh

bench-weights: deps ## downloader throughput vs curl, and bytes re-fetched after kills
	node --disable-warning=ExperimentalWarning bench/weights.ts

bench-reconcile: deps binaries ## operator vs plain client on N DeepSeekDeployments
	node --disable-warning=ExperimentalWarning bench/reconcile.ts

bench-autoscale: deps ## builtin autoscaling policy vs KEDA, HPA and KubeAI on replayed traces (ARGS='--trace FILE')
	node --disable-warning=ExperimentalWarning bench/autoscale.ts $(ARGS)

bench-apiserver-cost: deps binaries ## what each kind of write in bench-reconcile costs the apiserver
	node --disable-warning=ExperimentalWarning bench/apiserver-cost.ts

.PHONY: help deps build typecheck lint fmt crds helm image test-image test-chart test test-unit test-e2e test-reliability binaries
.PHONY: cluster-up cluster-down demo bench-weights bench-reconcile bench-autoscale bench-apiserver-cost
