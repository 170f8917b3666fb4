"""Prometheus from Debian's `prometheus` package, scraping the predictor and the stream worker."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from string import Template

import httpx

from deploy.stack.errors import ServiceFailed
from deploy.stack.service import Service, require
from deploy.stack.settings import LOCAL_DIR

TEMPLATE = LOCAL_DIR / "prometheus" / "prometheus.yml.tmpl"
APT_HINT = "run `make system-deps` (apt-get install prometheus)"


class PrometheusService(Service):
    name = "prometheus"

    def ports(self) -> Mapping[str, int]:
        return {"FRAUD_PROMETHEUS_PORT": self.settings.prometheus_port}

    def render_config(self) -> str:
        s = self.settings
        return Template(TEMPLATE.read_text()).substitute(
            host=s.host,
            prometheus_port=s.prometheus_port,
            predictor_port=s.predictor_port,
            worker_web_port=s.worker_web_port,
        )

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "prometheus.yml"
        config.write_text(self.render_config())
        check = subprocess.run(  # noqa: S603
            [require("promtool", APT_HINT), "check", "config", str(config)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise ServiceFailed(
                self.name, "promtool rejected the config", check.stdout + check.stderr
            )

    def argv(self) -> list[str]:
        return [
            require("prometheus", APT_HINT),
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address={self.settings.host}:{self.settings.prometheus_port}",
            "--storage.tsdb.retention.time=2d",
        ]

    def healthy(self) -> bool:
        url = f"http://{self.settings.host}:{self.settings.prometheus_port}/-/ready"
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False
