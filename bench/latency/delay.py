"""Delays: the one a stream adds (measured from when each decoded sample becomes available), the check against
the codec's declared algorithmic delay, and the check of its declared output delay against the phase-blind
estimate (`alignment.estimate_envelope_delay`)."""

from __future__ import annotations

import math

import numpy as np

from codecbench.alignment import CONFIDENCE_MIN, ENVELOPE_AGREEMENT_S, Estimate, estimate_envelope_delay
from codecbench.audio import resample

TOLERANCE_MS = 1.0  # declared and measured delays closer than this agree
# where the envelope places a zero-delay phase-free control (the input resynthesised by a centred 1024/256 iSTFT
# with random phases) on the 14 utterances of the embedded sample: -5.0 ms (min) to -0.1 ms (max), median -2.7 ms
PHASE_FREE_BIAS_MS = (0.1, 5.0)


def streaming_delay_ms(reference: np.ndarray, outputs: list[np.ndarray], frame_samples: int, rate: int,
                       output_rate: int, max_lag: int) -> float:
    """Algorithmic delay of a frame-by-frame stream, measured.

    Frame i (input samples [iF, (i+1)F)) is complete at input time (i+1)F; the decoder then releases the
    samples `outputs[i]`. Output sample m reproduces input sample m - L, with L the lag the phase-blind estimator
    (`estimate_envelope_delay`, refined by the waveform where it correlates) finds between the decoded stream and
    the input. The delay of frame i is
    that of its first released sample, (i+1)F - (O_{i-1} - L), O the cumulative output count: the frame
    wait plus the lookahead the decoder holds back plus any lag left in the signal. The steady-state
    value is the median over frames after the first.

    Args:
        reference: the input [T] at `rate`, from sample 0 of the stream.
        outputs: what the decoder released per frame, at `output_rate`, in frame order.
        frame_samples: F, input samples per frame.
        rate: the codec's input sample rate.
        output_rate: the decoder's output rate.
        max_lag: largest lag searched, in samples at `rate`.

    Returns:
        milliseconds (NaN when the stream released no audio).
    """
    decoded = resample(np.concatenate(outputs), output_rate, rate) if outputs else np.zeros(0, np.float32)
    if decoded.size == 0 or len(outputs) < 2:
        return float("nan")
    lag = estimate_envelope_delay(reference[: len(decoded)], decoded, max_lag, rate).samples
    released = np.cumsum([len(o) for o in outputs]) * (rate / output_rate)
    frame_ends = frame_samples * np.arange(1, len(outputs) + 1)
    first_sample = np.concatenate([[0.0], released[:-1]])
    delays = frame_ends - (first_sample - lag)
    return float(1000 * np.median(delays[1:]) / rate)


def delay_check(declared_ms: float, streamed_ms: float, alignment_ms: float) -> str:
    """Compare the declared algorithmic delay with what was measured.

    With a stream: `agrees` when the measured streaming delay is within 1 ms of the declared one. Without
    one, the offline round trip can only show the part of the delay left in the decoded signal (frame
    waits never appear offline, and decoders such as Opus trim their lookahead), so the check is that the
    alignment delay lies within [-1 ms, declared + 1 ms].
    """
    if math.isnan(declared_ms):
        return "n/a: no declared delay (offline codec)"
    if not math.isnan(streamed_ms):
        diff = streamed_ms - declared_ms
        return "agrees" if abs(diff) <= TOLERANCE_MS else f"DISAGREES: stream measured {diff:+.2f} ms off"
    if math.isnan(alignment_ms):
        return "not measured"
    if -TOLERANCE_MS <= alignment_ms <= declared_ms + TOLERANCE_MS:
        return "consistent (offline alignment within declared)"
    return f"DISAGREES: offline alignment {alignment_ms:.2f} ms outside [0, {declared_ms:.2f}] ms"


def output_delay_check(declared: int | None, estimate: Estimate, rate: int, causal: bool = True) -> str:
    """Compare a codec's declared output delay (`known_delay_samples`, at `rate`) with the phase-blind estimate
    of its offline round trip: `agrees` within 1 ms.

    Two estimates cannot confirm a delay to 1 ms, and the check says so instead of passing or failing: a
    low-confidence one, and an envelope-only estimate (the waveform does not follow the input) of a non-causal
    decoder. Such a decoder spreads each frame over its synthesis window (a 64 ms iSTFT or Griffin-Lim frame)
    symmetrically, so energy appears before sharp speech onsets; the log-mel envelope places that output 1-4 ms
    early on every utterance even when its true delay is exactly 0 (`PHASE_FREE_BIAS_MS`, docs/alignment.md).
    A causal decoder cannot put energy before the onsets it follows, and Codec 2's envelope-only estimate agrees.
    Such an estimate further than `ENVELOPE_AGREEMENT_S` (5 ms, the delay rule's own flag) from the declared delay
    still DISAGREES.

    Args:
        declared: the declared output delay at `rate`, or None.
        estimate: `estimate_envelope_delay` of the round trip against its input.
        rate: of both.
        causal: whether the codec is causal (`Codec.causal`).
    """
    found_ms = 1000 * estimate.samples / rate
    if estimate.confidence < CONFIDENCE_MIN:
        return f"not measured: low-confidence estimate ({estimate.confidence:.2f} < {CONFIDENCE_MIN})"
    if declared is None:
        return f"n/a: none declared (estimated {found_ms:+.2f} ms, {estimate.method})"
    declared_ms = 1000 * declared / rate
    if estimate.method == "envelope" and not causal and abs(found_ms - declared_ms) <= 1000 * ENVELOPE_AGREEMENT_S:
        return (f"not measured to 1 ms: phase-free non-causal decoder (declared {declared_ms:+.2f} ms, envelope-only "
                f"estimate {found_ms:+.2f} ms; the envelope places such outputs {PHASE_FREE_BIAS_MS[0]:g} to "
                f"{PHASE_FREE_BIAS_MS[1]:g} ms early at a true delay of 0)")
    if abs(found_ms - declared_ms) <= TOLERANCE_MS:
        return f"agrees (declared {declared_ms:+.2f} ms, estimated {found_ms:+.2f} ms)"
    return f"DISAGREES: declared {declared_ms:+.2f} ms, estimated {found_ms:+.2f} ms ({estimate.method})"
