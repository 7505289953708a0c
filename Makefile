# The verbs of the project. Each is one line; the scripts in infra/ say what they do.
.PHONY: run test lint up down servers stop bench

run:      ## start what is missing, then both services in the foreground (Ctrl-C stops them)
	bash infra/run.sh

test:     ## start what is missing, then lint, types and every test against real servers
	bash infra/test.sh

lint:     ## ruff and mypy only
	uv run ruff check . && uv run ruff format --check . && uv run mypy

up:       ## the three servers as containers instead (needs Docker and its registry)
	docker compose up -d --wait

down:     ## stop the containers of `make up`
	docker compose down

servers:  ## start the local servers only (PostgreSQL, RabbitMQ, FerretDB) on 127.0.0.1
	bash infra/provision.sh

stop:     ## stop the local servers
	bash infra/stop.sh

bench:    ## measure command and query latency and throughput against the running servers
	uv run python -m tests.bench
