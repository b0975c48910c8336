"""Settings: environment over the instance folder's config.toml over defaults, validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from complaintwatch.config import load_settings


@pytest.fixture
def instance(tmp_path, monkeypatch):
    for var in ("PUBLIC_READ", "SMTP_PORT", "SMTP_HOST", "STORE", "ALLOWED_HOSTS"):
        monkeypatch.delenv("COMPLAINTWATCH_" + var, raising=False)
    monkeypatch.setenv("COMPLAINTWATCH_STATE_DIR", str(tmp_path))
    return tmp_path


def test_defaults(instance):
    s = load_settings()
    assert s.store == "complaintwatch.db" and s.public_read is True and s.smtp_port == 587
    assert s.state_dir == instance


def test_file_then_environment_then_overrides(instance, monkeypatch):
    (instance / "config.toml").write_text('public_read = false\nsmtp_host = "mail.example.org"\nsmtp_port = 2525\n')
    s = load_settings()
    assert (s.public_read, s.smtp_host, s.smtp_port) == (False, "mail.example.org", 2525)
    monkeypatch.setenv("COMPLAINTWATCH_SMTP_PORT", "465")
    assert load_settings().smtp_port == 465
    assert load_settings(smtp_port=25).smtp_port == 25


def test_allowed_hosts_list(instance, monkeypatch):
    monkeypatch.setenv("COMPLAINTWATCH_ALLOWED_HOSTS", "a.example, b.example  c.example")
    assert load_settings().allowed_host_list == ["a.example", "b.example", "c.example"]


@pytest.mark.parametrize(
    "env, text, field",
    [({"COMPLAINTWATCH_SMTP_PORT": "twenty"}, "", "smtp_port"), ({}, 'smtp_hostt = "x"\n', "smtp_hostt")],
)
def test_bad_values_name_the_setting(instance, monkeypatch, env, text, field):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (instance / "config.toml").write_text(text)
    with pytest.raises(ValidationError, match=field):
        load_settings()
