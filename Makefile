# The verbs of the project. Each is one line; the scripts in infra/ say what they do.
.PHONY: run test unit test-cluster test-containers lint up down servers stop bench bench-scale soak fuzz bench-keepup bench-catch-up asyncapi contract-check cluster cluster-stop k8s-check docs reference
# The official AsyncAPI parser (tools/asyncapi, pinned in its package-lock.json), installed on first use.
VALIDATE_ASYNCAPI = { test -d tools/asyncapi/node_modules || npm ci --prefix tools/asyncapi --ignore-scripts --no-audit --no-fund --silent; } && node tools/asyncapi/validate.mjs docs/asyncapi.json

run:      ## start what is missing, then both services in the foreground (Ctrl-C stops them)
	bash infra/run.sh

test:     ## start what is missing, then lint, types and every test against real servers
	bash infra/test.sh

unit:     ## the pure tests only: no server, a few seconds
	uv run --frozen pytest tests/unit -q

test-cluster: ## a three-node RabbitMQ cluster, then the pair on it: a node lost under load, partitions shared by replicas
	bash infra/test-cluster.sh

lint:     ## ruff, mypy, the import layers (lint-imports) and the CI workflow (actionlint) only
	uv run --group bench ruff check . && uv run --group bench ruff format --check . && uv run --group bench mypy && uv run --group bench lint-imports && uv run --group bench mypy --strict examples/client_quickstart.py examples/python_subscriber/ && bash infra/actionlint.sh

asyncapi: ## write docs/asyncapi.json (the message API) from the contracts, then validate it with @asyncapi/parser
	uv run python -m cqrs_shared.asyncapi write docs/asyncapi.json && $(VALIDATE_ASYNCAPI)

contract-check: ## docs/asyncapi.json up to date, valid, and no message broken since it was committed
	uv run python -m cqrs_shared.asyncapi check docs/asyncapi.json && $(VALIDATE_ASYNCAPI)

docs:     ## the documentation site (mkdocs.yml, docs/) into site/, strict: a broken link or anchor fails it
	NO_MKDOCS_2_WARNING=1 uv run --frozen --group docs mkdocs build --strict --quiet -d site

reference: ## rewrite the generated parts of docs/configuration.md (settings) and docs/cli.md (cqrs --help)
	uv run --frozen python tools/docs_reference.py write

k8s-check: ## build the kustomize base and overlay and strictly validate every object (no cluster needed)
	cd deploy/kubernetes/validate && go run . ..

test-containers: ## the container path: images, compose stack, testcontainers (stand-ins where no registry)
	bash infra/containers/check.sh

up:       ## the whole stack in containers (docker-compose.yml); returns when healthy and answering
	bash infra/containers/up.sh

down:     ## stop and remove the containers of `make up` (the data volumes stay)
	bash infra/containers/down.sh

servers:  ## start the local servers only (PostgreSQL, RabbitMQ, FerretDB) on 127.0.0.1
	bash infra/provision.sh

stop:     ## stop the local servers
	bash infra/stop.sh

bench:    ## the pair beside a raw echo, aio-pika JsonRPC and FastStream, one run (docs/performance.md)
	bash infra/bench.sh $(BENCH_ARGS)

soak:     ## the pair at half its command rate, with queries, for SOAK_MINUTES (30): memory, queue depth, lag (docs/performance.md)
	bash infra/soak.sh $(SOAK_ARGS)

cluster:  ## a three-node RabbitMQ cluster on 127.0.0.1:5701-5703 beside the local servers (infra/cluster.sh)
	bash infra/provision.sh && bash infra/cluster.sh start

cluster-stop: ## stop the three nodes of `make cluster` and remove their data
	bash infra/cluster.sh stop --purge

bench-scale: ## does a read stay as fast at 100,000 customers as at 1,000? (seeds its own read database)
	uv run python -m bench.scale

bench-keepup: ## does the projector keep up with the command side at full rate? (needs `make run`)
	uv run python -m bench.keepup

bench-catch-up: ## how fast does an empty read model catch up with 100,000 events? (needs `make servers`)
	uv run --group bench python -m bench.catch_up

fuzz:     ## 10,000 hostile commands and queries, and 10,000 hostile frames of each kind, against a pair of its own
	CQRS_FUZZ_MESSAGES=10000 CQRS_FUZZ_FRAMES=10000 bash infra/test.sh -s tests/e2e/test_fuzz.py tests/e2e/test_fuzz_frames.py
