"""Codec adapters and the plugin API (`Codec`, `load_codec`, `codec_names`)."""

from codecbench.codecs.base import Availability, Codec, CodecUnavailable, Dependencies, Encoded, FrameStream
from codecbench.codecs.registry import (codec_availability, codec_names, codec_packages, get_codec_class,
                                        load_codec)
from codecbench.codecs.spec import CodecSpec, parse_spec, parse_spec_list

__all__ = [
    "Availability",
    "Codec",
    "CodecSpec",
    "CodecUnavailable",
    "Dependencies",
    "Encoded",
    "FrameStream",
    "codec_availability",
    "codec_names",
    "codec_packages",
    "get_codec_class",
    "load_codec",
    "parse_spec",
    "parse_spec_list",
]
