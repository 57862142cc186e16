"""The channel between encoder and decoder: packet loss (Bernoulli, Gilbert–Elliott, traces), bit errors, and
the generic concealment of codecs whose decoders have none (see `codecbench.codecs.Framing`)."""

from codecbench.channel.conditions import CLEAN, ChannelCondition, parse_channel, parse_channels
from codecbench.channel.transmit import Transmission

__all__ = ["CLEAN", "ChannelCondition", "Transmission", "parse_channel", "parse_channels"]
