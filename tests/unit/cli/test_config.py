"""The config file `raylane login` writes holds a token: owner-only, replaced atomically, and read in a clear order."""

import json
import stat

import pytest

from raylane.config import ConfigError, config_path, forget_token, load_config, resolve, save_config


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_owner_only_in_an_owner_only_folder(tmp_path):
    path = tmp_path / "fresh" / "raylane" / "config.json"
    save_config(path, {"url": "http://127.0.0.1:8000", "token": "rl_secret", "serve_url": None})
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert json.loads(path.read_text()) == {"url": "http://127.0.0.1:8000", "token": "rl_secret"}


def test_a_file_once_readable_by_others_is_replaced_by_an_owner_only_one(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_config(path, {"url": "http://h", "token": "rl_new"})
    assert mode(path) == 0o600
    assert load_config(path) == {"url": "http://h", "token": "rl_new"}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"], "no temporary file is left behind"


def test_logout_forgets_the_token_and_keeps_the_url(tmp_path):
    path = tmp_path / "config.json"
    save_config(path, {"url": "http://h", "token": "rl_x"})
    assert forget_token(path) is True
    assert load_config(path) == {"url": "http://h"}
    assert forget_token(path) is False
    assert mode(path) == 0o600


def test_arguments_then_environment_then_file(tmp_path):
    path = tmp_path / "config.json"
    save_config(path, {"url": "http://file", "token": "rl_file", "serve_url": "http://file:8080"})
    environ = {"RAYLANE_URL": "http://file/", "RAYLANE_TOKEN": "rl_env", "RAYLANE_CONFIG": str(path)}
    settings = resolve(environ=environ, token="rl_arg")
    assert settings.url == "http://file/" and settings.token == "rl_arg" and settings.serve_url == "http://file:8080"
    assert resolve(environ=environ).token == "rl_env"
    assert resolve(environ=environ, url="http://arg").url == "http://arg"
    assert resolve(environ={"RAYLANE_CONFIG": str(tmp_path / "none.json")}).url is None


def test_the_stored_token_goes_to_the_stored_server_only(tmp_path):
    path = tmp_path / "config.json"
    save_config(path, {"url": "http://prod:8000", "token": "rl_prod", "serve_url": "http://prod:8080"})
    assert resolve(environ={}, path=path).token == "rl_prod"
    assert resolve(environ={}, path=path, url="http://prod:8000/").token == "rl_prod"
    elsewhere = resolve(environ={"RAYLANE_URL": "http://attacker:8000"}, path=path)
    assert elsewhere.url == "http://attacker:8000" and elsewhere.token is None and elsewhere.serve_url is None


def test_where_the_file_is(tmp_path):
    assert config_path({"RAYLANE_CONFIG": str(tmp_path / "c.json")}) == tmp_path / "c.json"
    assert config_path({"XDG_CONFIG_HOME": "/x"}).as_posix() == "/x/raylane/config.json"


def test_a_broken_file_is_named(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)
