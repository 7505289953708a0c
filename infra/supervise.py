"""`make run`'s supervisor: the services in the foreground, restarted as a container runtime would.

    .venv/bin/python infra/supervise.py .venv/bin/command-service .venv/bin/query-service

- SIGINT or SIGTERM stops them all (each finishes its in-flight messages); the exit status is 0.
- A service that exits on its own after running at least CQRS_RUN_MIN_UPTIME seconds (default 10: a
  crash, or the broker watchdog giving up) is started again a second later.
- One that exits sooner failed to start (bad settings, a queue to delete): starting it again would fail
  the same way, so all stop and the run exits with its status (1 if that was 0).
- Each service connects to RabbitMQ as its own role's user where one is given: CQRS_COMMAND_RABBITMQ_URL
  and CQRS_QUERY_RABBITMQ_URL (infra/local.env) become its CQRS_RABBITMQ_URL.

Plain Python, so that `make run` needs no bash 4 (macOS ships 3.2). SIGINT and SIGTERM are unblocked
and handled here whatever mask or ignored state this process inherited (a CI harness, `nohup`, a
script's background job: issue 6), and the services start with both at their defaults.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

STOPPING = (signal.SIGINT, signal.SIGTERM)
ROLE_URLS = {"command-service": "CQRS_COMMAND_RABBITMQ_URL", "query-service": "CQRS_QUERY_RABBITMQ_URL"}
POLL_SECONDS = 0.2
DRAIN_SECONDS = 45.0  # a service drains within 30 s (consumer.DRAIN_TIMEOUT_SECONDS)


@dataclass
class Service:
    program: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] = field(init=False)
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    @property
    def name(self) -> str:
        return os.path.basename(self.program)

    def start(self) -> None:
        self.process = subprocess.Popen([self.program], env=self.env)
        self.started = time.monotonic()


def service_env(program: str) -> dict[str, str]:
    """This environment, with the broker URL of the program's role where one is given."""
    env = dict(os.environ)
    url = env.get(ROLE_URLS.get(os.path.basename(program), ""), "")
    if url:
        env["CQRS_RABBITMQ_URL"] = url
        env.pop("CQRS_RABBITMQ_URL_FILE", None)  # the role's URL replaces it
    return env


def shell_status(code: int) -> int:
    """A Popen return code as a shell gives it: 128 + N for a process killed by signal N."""
    return 128 - code if code < 0 else code


def status(code: int) -> str:
    if code >= 0:
        return f"status {code}"
    return f"status {shell_status(code)} (killed by {signal.Signals(-code).name})"


def say(message: str) -> None:
    print(f"==> run: {message}", file=sys.stderr, flush=True)


def stop(services: list[Service]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.terminate()
    deadline = time.monotonic() + DRAIN_SECONDS
    for service in services:
        try:
            service.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{service.name} did not stop within {DRAIN_SECONDS:g} s; killing it")
            service.process.kill()
            service.process.wait()


def supervise(services: list[Service], min_uptime: float, stopping: list[int]) -> int:
    """Until a signal arrives (0) or a service fails to start (its status, at least 1)."""
    while not stopping:
        time.sleep(POLL_SECONDS)
        for service in services:
            code = service.process.poll()
            if code is None or stopping:
                continue
            if time.monotonic() - service.started >= min_uptime:
                say(f"{service.name} exited with {status(code)}; starting it again")
                time.sleep(1)
                service.start()
                continue
            say(f"{service.name} exited with {status(code)} within {min_uptime:g}s of starting; stopping")
            return shell_status(code) or 1
    return 0


def main(programs: list[str]) -> int:
    stopping: list[int] = []
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
    for sig in STOPPING:
        signal.signal(sig, lambda number, _frame: stopping.append(number))
    min_uptime = float(os.environ.get("CQRS_RUN_MIN_UPTIME", "10"))
    services = [Service(program, service_env(program)) for program in programs]
    try:
        return supervise(services, min_uptime, stopping)
    finally:
        stop(services)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
