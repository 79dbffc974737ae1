"""DEERIn's settings: one catalogue (:mod:`config.catalogue`) and how values are read
(:mod:`config.load`). A leaf package: it imports nothing of DEERIn and reads nothing on import.

    from config import load_config
    cfg = load_config(index_dir=Path("deerin-index"))
    cfg["llm.parallel"], cfg.source("llm.parallel")
"""

from config.catalogue import BY_ENV, BY_KEY, SETTINGS, Kind, Setting
from config.load import (
    DEFAULT,
    ENVIRONMENT,
    FILE_NAME,
    Config,
    ConfigError,
    Value,
    env_text,
    load_config,
    parse,
    user_file,
)

__all__ = [
    "BY_ENV", "BY_KEY", "DEFAULT", "ENVIRONMENT", "FILE_NAME", "SETTINGS", "Config",
    "ConfigError", "Kind", "Setting", "Value", "env_text", "load_config", "parse", "user_file",
]
