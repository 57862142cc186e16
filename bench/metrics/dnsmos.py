"""DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS: Microsoft's non-intrusive ONNX models, bundled in `speechmos`.

The scores are those of Microsoft's reference scoring (`dnsmos_local.py`, as `speechmos.dnsmos.DNSMOS`):
9.01 s windows every second (a clip shorter than 9.01 s is doubled until it is not), each window's P.835
(calibrated by Microsoft's polynomials) and P.808 predictions, the mean over windows. Only the work
differs. The P.835 model spends 96 % of its time in its first four convolutions: 'same' 3x3 convolutions
over a log-power spectrogram of 10 ms frames. Consecutive windows share 800 of their 900 frames, so these
layers run once over the clip; only the 4 frames at each window edge, which see the window's zero padding,
are recomputed per window. The rest of both models runs per window, all windows in one call. Sessions are
built once per process with one thread each; parallelism is the runner's worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from codecbench.resources import Dependencies
from codecbench.metrics.base import Metric

SAMPLE_RATE = 16000
WINDOW_S = 9.01  # Microsoft's INPUT_LENGTH
WINDOW_SAMPLES = int(WINDOW_S * SAMPLE_RATE)  # 144160, the P.835 model's input
FRAME_HOP = 160  # P.835 spectrogram: 320-sample frames every 160 samples, 900 per window
WINDOW_FRAMES = 900
EDGE = 4  # frames at each window edge that see its zero padding: four stacked 3x3 convolutions
HEAD_CHUNK = 600  # frames per call of the shared layers (bounds memory on long clips)
WINDOW_BATCH = 4  # windows per call of the per-window layers and of P.808 (bounds memory)
SPECTROGRAM = "adjusted_input6"  # [N, 1, frames, 161] log10 power, input of the first convolution
SHARED = "mos_estimator_logpow/conv2d_3/Relu:0"  # [N, 32, frames, 161] after the fourth convolution
P835_OUTPUT = "Identity:0"
# Microsoft's calibration of the raw P.835 outputs (non-personalised DNSMOS).
P835_POLYNOMIALS = {"sig": (-0.08397278, 1.22083953, 0.0052439), "bak": (-0.13166888, 1.60915514, -0.39604546),
                    "ovrl": (-0.06766283, 1.11546468, 0.04602535)}


def _submodel(model, inputs: list[str], output: str) -> bytes:
    """The nodes of the ONNX `model` computing `output` from `inputs`, as a serialized model whose input
    dimensions are free (so the frame axis can have any length)."""
    import onnx
    from onnx import helper

    producer = {name: i for i, node in enumerate(model.graph.node) for name in node.output}
    used: set[int] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in inputs or name not in producer or producer[name] in used:
            continue
        used.add(producer[name])
        stack.extend(model.graph.node[producer[name]].input)
    nodes = [model.graph.node[i] for i in sorted(used)]
    names = {name for node in nodes for name in node.input}
    graph = helper.make_graph(
        nodes, "part", [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in inputs],
        [helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)],
        [init for init in model.graph.initializer if init.name in names])
    return helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version).SerializeToString()


@dataclass(frozen=True)
class _Sessions:
    """The P.835 model cut in three (spectrogram, shared layers, per-window layers) and the P.808 model."""

    spectrogram: object
    shared: object
    window: object
    p808: object


@lru_cache(maxsize=1)
def _sessions() -> _Sessions:
    """ONNX sessions of the models bundled in `speechmos`, one thread each, built once per process."""
    import onnx
    import onnxruntime as ort
    from speechmos import dnsmos

    models = Path(dnsmos.__file__).parent / "dnsmos_models"
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1

    def session(model):
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    p835 = onnx.load(str(models / "sig_bak_ovr.onnx"))
    return _Sessions(session(_submodel(p835, ["input_1"], SPECTROGRAM)),
                     session(_submodel(p835, [SPECTROGRAM], SHARED)),
                     session(_submodel(p835, [SHARED], P835_OUTPUT)),
                     session(str(models / "model_v8.onnx")))


def window_starts(n_samples: int) -> list[int]:
    """First samples of the windows Microsoft's scoring uses on a (tiled) clip of `n_samples`.

    Its slice ends are `int((k + 9.01) * 16000)`; where floating point puts that one sample short
    (k = 7..23, 119..122, ...) the window is skipped. Kept, so that scores equal the reference's.
    """
    hops = int(np.floor(n_samples / SAMPLE_RATE) - WINDOW_S) + 1
    return [k * SAMPLE_RATE for k in range(hops)
            if int((k + WINDOW_S) * SAMPLE_RATE) - k * SAMPLE_RATE >= WINDOW_SAMPLES]


def _run(session, name: str, x: np.ndarray) -> np.ndarray:
    return session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def _spectrogram(sessions: _Sessions, audio: np.ndarray, n_frames: int) -> np.ndarray:
    """The P.835 model's log-power spectrogram [1, 1, n_frames, 161] of `audio` (frame j = samples 160j..160j+319),
    computed by its own layers in blocks of 900 frames (frames are independent)."""
    blocks = -(-n_frames // WINDOW_FRAMES)
    padded = np.zeros(blocks * WINDOW_FRAMES * FRAME_HOP + FRAME_HOP, np.float32)
    used = min(len(audio), len(padded))
    padded[:used] = audio[:used]
    starts = np.arange(blocks) * WINDOW_FRAMES * FRAME_HOP
    batch = np.stack([padded[s:s + WINDOW_SAMPLES] for s in starts])
    spec = _run(sessions.spectrogram, "input_1", batch)  # [blocks, 1, 900, 161]
    return np.concatenate(list(spec), axis=1)[np.newaxis, :, :n_frames]


def _shared_layers(sessions: _Sessions, spec: np.ndarray) -> Iterator[np.ndarray]:
    """The first four convolutions over all frames of `spec` [1, 1, F, 161], chunk by chunk in order
    ([32, chunk, 161] each), computed with EDGE frames of context on each side (exact away from the clip's
    ends, which the window edges recompute anyway)."""
    n_frames = spec.shape[2]
    for start in range(0, n_frames, HEAD_CHUNK):
        stop = min(start + HEAD_CHUNK, n_frames)
        lo, hi = max(start - EDGE, 0), min(stop + EDGE, n_frames)
        yield _run(sessions.shared, SPECTROGRAM, spec[:, :, lo:hi])[0, :, start - lo:stop - lo]


def _windows_p835(sessions: _Sessions, spec: np.ndarray, shared: np.ndarray, firsts: list[int]) -> np.ndarray:
    """Raw P.835 outputs [len(firsts), 3] of the windows starting at frames `firsts`, given the shared layers'
    output `shared` [32, F', 161] whose frame 0 is frame firsts[0] of `spec`."""
    windows = np.stack([shared[:, f - firsts[0]:f - firsts[0] + WINDOW_FRAMES] for f in firsts])
    # Each window's own edges: its first and last 2*EDGE frames alone, zero-padded as in the window.
    edges = [spec[:, :, f + offset:f + offset + 2 * EDGE] for f in firsts for offset in (0, WINDOW_FRAMES - 2 * EDGE)]
    edge_out = _run(sessions.shared, SPECTROGRAM, np.concatenate(edges))
    windows[:, :, :EDGE] = edge_out[0::2, :, :EDGE]
    windows[:, :, WINDOW_FRAMES - EDGE:] = edge_out[1::2, :, EDGE:]
    return _run(sessions.window, SHARED, windows)


def _p835(sessions: _Sessions, audio: np.ndarray, starts: list[int]) -> np.ndarray:
    """Raw P.835 outputs [windows, 3] (SIG, BAK, OVRL) of the windows at `starts`. Windows are scored as
    soon as the shared layers have covered them, and frames no later window needs are dropped, so memory
    stays bounded on long clips."""
    pending = [s // FRAME_HOP for s in starts]
    spec = _spectrogram(sessions, audio, pending[-1] + WINDOW_FRAMES)
    outputs, buffer, buffer_start = [], np.zeros((0, 0, 0), np.float32), 0
    for chunk in _shared_layers(sessions, spec):
        buffer = np.concatenate([buffer, chunk], axis=1) if buffer.size else chunk
        covered = buffer_start + buffer.shape[1]
        ready = [f for f in pending if f + WINDOW_FRAMES <= covered]
        for i in range(0, len(ready), WINDOW_BATCH):
            group = ready[i:i + WINDOW_BATCH]
            outputs.append(_windows_p835(sessions, spec, buffer[:, group[0] - buffer_start:], group))
        pending = pending[len(ready):]
        if pending:  # keep the frames from the next window on (the next chunk may start before it)
            drop = min(pending[0], covered) - buffer_start
            buffer, buffer_start = buffer[:, drop:], buffer_start + drop
    return np.concatenate(outputs)


def _p808(sessions: _Sessions, audio: np.ndarray, starts: list[int]) -> np.ndarray:
    """P.808 MOS [windows] of the windows at `starts`: Microsoft's 120-band log-mel of each window, the
    model run on WINDOW_BATCH windows per call."""
    import librosa

    def features(start: int) -> np.ndarray:
        segment = audio[start:start + WINDOW_SAMPLES - FRAME_HOP]
        mel = librosa.feature.melspectrogram(y=segment, sr=SAMPLE_RATE, n_fft=321, hop_length=160, n_mels=120)
        return ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T

    batches = [starts[i:i + WINDOW_BATCH] for i in range(0, len(starts), WINDOW_BATCH)]
    return np.concatenate([_run(sessions.p808, "input_1", np.stack([features(s) for s in batch]))[:, 0]
                           for batch in batches])


def dnsmos_scores(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """SIG, BAK, OVRL (P.835) and P.808 MOS of `x` [T] at 16 kHz.

    Samples beyond ±1 are clipped, as writing the signal to a 16-bit file would; a clip shorter than
    9.01 s is doubled until it is not, as in Microsoft's script.
    """
    assert sample_rate == SAMPLE_RATE, "DNSMOS runs at 16 kHz"
    audio = np.clip(x, -1.0, 1.0).astype(np.float32)
    while len(audio) < WINDOW_SAMPLES:
        audio = np.append(audio, audio)
    starts = window_starts(len(audio))
    sessions = _sessions()
    raw = _p835(sessions, audio, starts)
    scores = {f"dnsmos_{name}": float(np.mean(np.polyval(P835_POLYNOMIALS[name], raw[:, i].astype(np.float64))))
              for i, name in enumerate(("sig", "bak", "ovrl"))}
    scores["dnsmos_p808"] = float(np.mean(_p808(sessions, audio, starts)))
    return scores


class Dnsmos(Metric):
    """DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS (1-5), non-intrusive, of the decoded signal and the reference."""

    name = "dnsmos"
    columns = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
    sample_rate = SAMPLE_RATE
    intrusive = False
    scores_reference = True
    value_range = (1.0, 5.0)
    min_duration_s = 1.0  # shorter clips would be tiled more than 9 times into the 9 s window
    requires = Dependencies(("onnx", "onnxruntime", "speechmos.dnsmos"), extra="metrics")
    default = False  # opt-in: see README for its cost
    notes = "also ref_dnsmos_*: the reference's own score (cached per utterance)"

    def compute(self, reference: None, degraded: np.ndarray) -> dict[str, float]:
        return dnsmos_scores(degraded, self.sample_rate)
