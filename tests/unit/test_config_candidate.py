"""`config validate --service-file CANDIDATE --as NAME`: the check the Ansible role runs
before a rendered service file replaces the live one. It refuses what would break the
config (the candidate's own problems, a cert_name another live file already uses) and
only warns about what the candidate neither causes nor cures."""

from __future__ import annotations

from pathlib import Path

import yaml

from support.run import certkeeper, write_config


def service_doc(cert: str, *domains: str) -> dict[str, object]:
    return {
        "certbot_email": "ops@example.com",
        "certbot_domains": [{"domains": list(domains), "cert_name": cert}],
    }


def setup(tmp_path: Path) -> tuple[Path, Path]:
    cfg = write_config(tmp_path / "etc")
    live = tmp_path / "etc/services.d"
    (live / "shop.yaml").write_text(yaml.safe_dump(service_doc("shop", "shop.example.com")))
    (live / "api.yaml").write_text(yaml.safe_dump(service_doc("api", "api.example.com")))
    return cfg, live


def candidate(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "ansible-tmp-source"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def test_a_good_candidate_passes_as_the_file_it_replaces(tmp_path: Path) -> None:
    cfg, live = setup(tmp_path)
    new = candidate(tmp_path, service_doc("api", "api.example.com", "api2.example.com"))
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new), "--as", "api")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"OK: {new} as {live / 'api.yaml'}: 1 certificate(s)\n"
    assert proc.stderr == ""


def test_a_cert_name_another_live_file_uses_is_refused(tmp_path: Path) -> None:
    cfg, live = setup(tmp_path)
    # The merged-variables mistake: api's file holding shop's certificate.
    new = candidate(tmp_path, service_doc("shop", "shop.example.com"))
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new), "--as", "api")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"{live / 'api.yaml'}: certbot_domains[0].cert_name = 'shop': expected a cert_name"
        f" not already used by {live / 'shop.yaml'}\n"
    )


def test_the_candidates_own_problems_are_named_as_the_live_file(tmp_path: Path) -> None:
    cfg, live = setup(tmp_path)
    doc = {**service_doc("api", "api.example.com"), "certbot_auto_renew": True}
    proc = certkeeper(
        cfg, "config", "validate", "--service-file", str(candidate(tmp_path, doc)), "--as", "api"
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{live / 'api.yaml'}: certbot_auto_renew: unknown key")
    broken = candidate(tmp_path, "certbot_domains: [\n")
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(broken), "--as", "api")
    assert proc.returncode == 2
    assert proc.stderr == f"{broken}: line 2: not valid YAML: did not find expected node content\n"


def test_another_files_problem_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    cfg, live = setup(tmp_path)
    (live / "old.yaml").write_text("certbot_domains: [\n")
    new = candidate(tmp_path, service_doc("api", "api.example.com"))
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new), "--as", "api")
    assert proc.returncode == 0
    assert proc.stderr.startswith(f"WARNING: {live / 'old.yaml'}: line 2: not valid YAML")
    # The whole config is still refused: the candidate check does not hide it.
    assert certkeeper(cfg, "config", "validate").returncode == 2


def test_a_new_service_is_checked_against_every_live_file(tmp_path: Path) -> None:
    cfg, live = setup(tmp_path)
    new = candidate(tmp_path, service_doc("blog", "shop.example.com"))
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new), "--as", "blog")
    assert proc.returncode == 0, proc.stderr
    assert not (live / "blog.yaml").exists()
    (live / "api.yml").write_text(yaml.safe_dump(service_doc("api2", "api2.example.com")))
    new = candidate(tmp_path, service_doc("api", "api.example.com"))
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new), "--as", "api")
    assert proc.returncode == 2
    assert "service name 'api' is also used by" in proc.stderr


def test_bad_arguments_are_one_line_each(tmp_path: Path) -> None:
    cfg, _ = setup(tmp_path)
    new = candidate(tmp_path, service_doc("api", "api.example.com"))
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new))
    assert (proc.returncode, proc.stderr) == (
        2,
        "certkeeper: --service-file CANDIDATE and --as NAME go together\n",
    )
    proc = certkeeper(cfg, "config", "validate", "--service-file", str(new), "--as", "../x")
    assert proc.returncode == 2
    assert proc.stderr.startswith("--as '../x': expected a service name: ")
    assert "Traceback" not in proc.stderr
