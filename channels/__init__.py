"""What a channel is: its spec (``spec``), how it is read from YAML (``load``) and checked (``lint``)."""

from hl7bridge.channels.load import load_config, load_config_text
from hl7bridge.channels.spec import ChannelSpec, Config

__all__ = ["ChannelSpec", "Config", "load_config", "load_config_text"]
