"""The samples page: one self-contained `index.html` (inline CSS and script, no server, no network) with a table
per utterance -- the reference first, then the systems by bitrate -- each cell a labelled player, its spectrogram
thumbnail, the measured kbps and the row's scores; a loudness-matching switch; everything keyboard operable
(native controls, a checkbox) and labelled for screen readers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from codecbench.samples.assets import DYNAMIC_RANGE_DB, SPECTROGRAM_RATE, THUMB_PX, Asset

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1a1a1a;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin:0 0 .5rem} h2{font-size:1.15rem;margin:1.6rem 0 .4rem}
.meta{color:#3d3d3d;font-weight:normal;font-size:.95rem}
.scroll{overflow-x:auto} .scroll:focus{outline:3px solid #1f5fbf;outline-offset:2px}
table{border-collapse:collapse} th{text-align:left;font-size:.95rem;padding:.3rem .4rem;vertical-align:bottom}
td{vertical-align:top;padding:.4rem;border-top:1px solid #c8c8c8}
td audio{width:AUDIO_WIDTHpx;display:block} td img{display:block;margin:.3rem 0;border:1px solid #c8c8c8}
.kbps{font-weight:600} dl{margin:.2rem 0 0;display:grid;grid-template-columns:auto auto;gap:0 .6rem;font-size:.9rem}
dt{color:#3d3d3d} dd{margin:0;font-variant-numeric:tabular-nums}
.controls{background:#f2f5fa;border:1px solid #c8d3e6;padding:.6rem .8rem;margin:1rem 0;max-width:60rem}
#match-status{display:block;margin-top:.3rem}
input[type=checkbox]{width:1.1rem;height:1.1rem;vertical-align:middle}
input:focus-visible,audio:focus-visible,a:focus-visible{outline:3px solid #1f5fbf;outline-offset:2px}
a{color:#1f4fa0} footer{margin-top:2rem;color:#3d3d3d;font-size:.9rem;max-width:60rem}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"""

SCRIPT = """
(function(){
  var players=[].slice.call(document.querySelectorAll('audio[data-lufs]'));
  var box=document.getElementById('match-loudness'), status=document.getElementById('match-status');
  var levels=players.map(function(a){return parseFloat(a.dataset.lufs);}).filter(function(v){return isFinite(v);});
  var target=levels.length?Math.min.apply(null,levels):0;
  function apply(){
    players.forEach(function(a){
      var lufs=parseFloat(a.dataset.lufs);
      a.volume=(box.checked&&isFinite(lufs))?Math.min(1,Math.pow(10,(target-lufs)/20)):1;
    });
    status.textContent=box.checked?('Loudness-matched: every file plays at '+target.toFixed(1)+' LUFS.'):
      'Loudness matching is off: every file plays as coded.';
  }
  box.addEventListener('change',apply); apply();
  players.forEach(function(a){a.addEventListener('play',function(){
    players.forEach(function(b){if(b!==a&&!b.paused){b.pause();}});
  });});
})();
"""


@dataclass(frozen=True)
class CellView:
    """What one cell shows.

    Args:
        label: the column's system (`Reference` for the input).
        asset: its files.
        kbps: the measured bitrate (NaN for the reference, and for a pair scored by `codecbench score`).
        scores: (metric label, formatted value) pairs of the row.
        reference: the input itself.
    """

    label: str
    asset: Asset
    kbps: float
    scores: tuple[tuple[str, str], ...]
    reference: bool = False


@dataclass(frozen=True)
class UtteranceView:
    id: str
    speaker: str
    duration_s: float
    cells: tuple[CellView, ...]


def _cell(utterance: UtteranceView, cell: CellView) -> str:
    what = f"{cell.label}, utterance {utterance.id}"
    kbps = ("input (not coded)" if cell.reference else "bitrate not measured (decoded elsewhere)"
            if math.isnan(cell.kbps) else f"{cell.kbps:.2f} kbps measured")
    scores = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in cell.scores)
    lufs = "" if math.isnan(cell.asset.loudness_lufs) else f"{cell.asset.loudness_lufs:.2f}"
    return (f'<td><audio controls preload="none" src="{escape(cell.asset.audio)}" data-lufs="{lufs}" '
            f'aria-label="Play {escape(what)}"></audio>'
            f'<img src="{escape(cell.asset.spectrogram)}" width="{THUMB_PX[0]}" height="{THUMB_PX[1]}" '
            f'alt="Spectrogram of {escape(what)}, 0 to {SPECTROGRAM_RATE // 2000} kHz">'
            f'<span class="kbps">{escape(kbps)}</span>'
            + (f'<dl aria-label="Scores of {escape(what)}">{scores}</dl>' if scores else "") + "</td>")


def _table(index: int, utterance: UtteranceView) -> str:
    heading = f"u{index}"
    header = "".join(f'<th scope="col">{escape(c.label)}</th>' for c in utterance.cells)
    cells = "".join(_cell(utterance, c) for c in utterance.cells)
    return (f'<section aria-labelledby="{heading}"><h2 id="{heading}">{index}. {escape(utterance.id)} '
            f'<span class="meta">speaker {escape(utterance.speaker)} · {utterance.duration_s:.1f} s</span></h2>'
            f'<div class="scroll" role="region" tabindex="0" aria-label="Samples of utterance {escape(utterance.id)}">'
            f'<table><caption class="sr-only">Utterance {escape(utterance.id)}: the reference, then each system '
            f'by measured bitrate</caption><thead><tr>{header}</tr></thead><tbody><tr>{cells}</tr></tbody></table>'
            f'</div></section>')


def page_html(title: str, intro: list[str], utterances: list[UtteranceView], footer: list[str]) -> str:
    """The page. `intro` and `footer` are paragraphs of trusted HTML (built by `samples.build`, values escaped)."""
    paragraphs = "".join(f"<p>{p}</p>" for p in intro)
    controls = ('<div class="controls"><label><input type="checkbox" id="match-loudness"> '
                'Loudness-matched playback</label> <span id="match-status" role="status" aria-live="polite"></span>'
                '<p>With it on, each player\'s volume is lowered so that every file plays at the BS.1770 integrated '
                'loudness of the quietest one on this page; off, every file plays as coded. Starting a player '
                'pauses the others.</p></div>')
    tables = "".join(_table(i, u) for i, u in enumerate(utterances, start=1))
    notes = "".join(f"<p>{p}</p>" for p in footer)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><style>{STYLE.replace("AUDIO_WIDTH", str(THUMB_PX[0]))}</style></head><body>'
            f'<header><h1>{escape(title)}</h1>{paragraphs}</header><main>{controls}{tables}</main>'
            f'<footer>{notes}<p>Spectrograms: 0-{SPECTROGRAM_RATE // 2000} kHz (every file resampled to '
            f'{SPECTROGRAM_RATE // 1000} kHz), {DYNAMIC_RANGE_DB:.0f} dB below each utterance\'s reference peak.</p>'
            f'</footer><script>{SCRIPT}</script></body></html>\n')
