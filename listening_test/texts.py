"""What listeners read: welcome, privacy note, consent, instructions, end page, questionnaire and the player's
labels, in English by default, replaced (in any language) by a texts file given to `build`.

A texts file is YAML with any of the keys of `DEFAULTS` (unknown keys are an error):

    language: de                      # BCP 47 tag of the page
    welcome: |                        # Markdown; {name} {minutes} {items} {training} {min_play} are filled in
      # Hörtest: {name}
      ...
    privacy: ...                      # Markdown shown under the welcome text (what is stored, and why)
    consent: Ich bin einverstanden.   # if set, a check box with this label must be ticked to start
    instructions: ...                 # above every trial; {min_play} is filled in
    end: ...                          # the end page
    questionnaire:                    # optional questions on the end page (answers exported per listener)
      - {id: fatigue, question: "How tiring was the test?", choices: [not at all, a little, very]}
      - {id: remarks, question: "Anything that disturbed you?"}      # no choices: free text
    labels: {next: "Weiter →", ...}   # the player's words (see DEFAULT_LABELS), any subset

`build` merges the file over the defaults and seals the result in `test.yaml`, so a test always shows the
texts it was built with.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

WELCOME = """\
# Listening test: {name}

You will hear short speech recordings processed in different ways and rate their quality on a scale
from 0 to 100 (**Bad · Poor · Fair · Good · Excellent**) against the **Reference**.

- **One of the stimuli in every trial is the reference itself, hidden among the others: find it and rate it
  100.** The others are rated by how close they come to the Reference.
- Listen to every stimulus and to the Reference for at least {min_play} s (or to its end) before you rate it.
- Use good headphones in a quiet room. It takes about {minutes} minutes: {items} trials after a short
  **training**, whose ratings are not counted.
- Your ratings are kept in this browser until the server has saved them, and saved every time you press
  **Next**. If anything goes wrong, open your personal link (shown on every page) to continue where you stopped.
"""

PRIVACY = """\
**Privacy.** This test stores what you enter here (an optional name or code, your listening experience and
headphones), your browser's description of itself (user agent), your ratings, how you used the player
(plays, switches, seeks and their times) and your answers at the end. They are used for this listening test
only and published, if at all, without your name.
"""

INSTRUCTIONS = """\
Compare every stimulus with the Reference and rate its quality. One of the stimuli is the reference itself:
rate it 100. Listen to each stimulus and the Reference for at least {min_play} s (or to its end). Switching
keeps the playback position.
"""

END = "Thank you! All your ratings are saved."

DEFAULT_LABELS = {
    "name": "Your name or listener code (optional)",
    "expertise": "Your listening experience",
    "expertise_choices": ["none", "some (I listen critically now and then)",
                          "expert (audio professional or trained listener)"],
    "headphones": "Your headphones (make and model, optional)",
    "start": "Start",
    "consent_needed": "Please tick the consent box to start.",
    "reference": "Reference",
    "play": "▶ Play",
    "stop": "■ Stop",
    "loop_start": "Loop start [",
    "loop_end": "Loop end ]",
    "loop_clear": "Clear loop (Esc)",
    "next": "Next →",
    "retry": "Save again",
    "bands": ["Excellent", "Good", "Fair", "Poor", "Bad"],
    "not_rated": "not rated",
    "rating_of": "rating of {label}",
    "training_title": "Training {index} of {count}",
    "trial_title": "Trial {index} of {count}",
    "training_notice": "Training: get to know the range of quality. These ratings are recorded but not counted.",
    "test_notice": "The training is over: from now on your ratings count.",
    "listener": "Listener {listener}",
    "loading": "Loading the audio…",
    "load_failed": "Could not load the audio ({reason}): reload the page.",
    "progress": "Listen to and rate every stimulus: {heard} of {total} listened to long enough, {rated} of {rated_total} rated.",
    "complete": "All stimuli listened to and rated: press Next.",
    "listened": "listened",
    "saving": "Saving…",
    "saved_locally": "Your ratings are kept in this browser until the server confirms them.",
    "save_failed": "Not saved: {reason} Your ratings are kept in this browser. Press “Save again”, or reload the "
                   "page later: they will be sent then.",
    "no_answer": "the server did not answer.",
    "restored": "Restored what you entered before the page was closed.",
    "resubmitting": "Sending the ratings saved in this browser…",
    "keys": "Keys (when no button or slider has the focus): Space play/stop · R reference · A–{last} stimuli · "
            "←/→ seek 1 s · [ ] loop start/end · Esc clear loop · Enter next",
    "personal_link": "Your personal link (to continue later or after a problem):",
    "waveform": "Waveform of the reference: click to seek, drag to set a loop.",
    "check_title": "Before you start: level and headphone check",
    "check_level": "Put on your headphones. Play the sample and set your computer's volume to a comfortable "
                   "level. Keep that volume for the whole test.",
    "play_sample": "▶ Play the sample",
    "stop_sample": "■ Stop the sample",
    "lr_title": "Left and right",
    "lr_text": "Play a tone, then say in which ear you heard it. Three rounds.",
    "play_tone": "▶ Play a tone",
    "left": "Left",
    "right": "Right",
    "lr_round": "Round {round} of 3.",
    "lr_done": "Done: {correct} of 3 correct.",
    "huggins_title": "Headphone check",
    "huggins_text": "Each sound has three noises. One of them hides a faint tone, which you can hear only "
                    "with headphones. Play the sound, then choose the noise with the tone.",
    "huggins_play": "▶ Play sound {round} of {rounds}",
    "huggins_choice": "Noise {n}",
    "huggins_done": "Headphone check done.",
    "continue": "Continue →",
    "skip_checks": "Skip these checks",
    "end_title": "Thank you!",
    "end_saved": "All {trials} trials are saved.",
    "comment": "Comments (optional): anything about the test, the sounds or your equipment",
    "send_answers": "Send",
    "answers_saved": "Your answers are saved. You can close this page.",
    "completion_code": "Your completion code: {code}",
    "trap_notice": "A few stimuli are attention checks: a voice tells you how to rate them. Do what it says.",
    "copy_code": "Copy the code",
    "copied": "Copied.",
    "screened_out_title": "Thank you",
    "screened_out_text": "This test needs headphones, and the headphone check did not confirm that you are wearing "
                         "them, so the test ends here. Thank you for your time: nothing more is needed from you.",
    "redirecting": "Taking you back to the study platform…",
    "back_to_platform": "Back to the study platform",
}

DEFAULTS: dict[str, Any] = {"language": "en", "welcome": WELCOME, "privacy": PRIVACY, "consent": "",
                            "instructions": INSTRUCTIONS, "end": END, "questionnaire": [], "labels": DEFAULT_LABELS}
WELCOME_FIELDS = ("name", "minutes", "items", "training", "min_play")
INSTRUCTION_FIELDS = ("min_play",)
MAX_QUESTIONS = 20


def load_texts(path: str | Path | None) -> dict[str, Any]:
    """The defaults merged with a texts file (None: the defaults), validated.

    Raises:
        ValueError: unknown keys or labels, a placeholder that is not offered, a malformed questionnaire.
    """
    import yaml

    given: Any = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"texts file {path} not found")
        try:
            given = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
        if not isinstance(given, dict):
            raise ValueError(f"{path} must be a YAML mapping with keys from {sorted(DEFAULTS)}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown keys {unknown} in the texts file; valid keys: {sorted(DEFAULTS)}")
    labels = given.get("labels") or {}
    if not isinstance(labels, dict) or set(labels) - set(DEFAULT_LABELS):
        raise ValueError(f"unknown labels {sorted(set(labels) - set(DEFAULT_LABELS))}; "
                         f"valid labels: {sorted(DEFAULT_LABELS)}")
    texts = {**DEFAULTS, **{k: v for k, v in given.items() if k != "labels"},
             "labels": {**DEFAULT_LABELS, **labels}}
    for key in ("language", "welcome", "privacy", "consent", "instructions", "end"):
        if not isinstance(texts[key], str):
            raise ValueError(f"texts: {key} must be text")
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", texts["language"]):
        raise ValueError(f"texts: language must be a BCP 47 tag such as en or de-CH, not {texts['language']!r}")
    if len(texts["labels"]["bands"]) != 5 or len(texts["labels"]["expertise_choices"]) < 2:
        raise ValueError("texts: labels.bands needs the 5 band names (best first); labels.expertise_choices "
                         "at least 2 choices")
    _check_fields("welcome", texts["welcome"], WELCOME_FIELDS)
    _check_fields("instructions", texts["instructions"], INSTRUCTION_FIELDS)
    texts["questionnaire"] = _questions(texts["questionnaire"])
    return texts


def _check_fields(key: str, text: str, offered: tuple[str, ...]) -> None:
    used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    if used - set(offered):
        raise ValueError(f"texts: {key} uses {sorted(used - set(offered))}; it may use {list(offered)} "
                         "(write {{ and }} for literal braces)")


def _questions(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > MAX_QUESTIONS:
        raise ValueError(f"texts: questionnaire must be a list of at most {MAX_QUESTIONS} questions")
    questions = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("question"), str) or \
                not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", str(entry.get("id", ""))):
            raise ValueError("texts: every question needs an id (lower-case letters, digits, _) and a question text, "
                             f"not {entry!r}")
        choices = entry.get("choices")
        if choices is not None and (not isinstance(choices, list) or len(choices) < 2):
            raise ValueError(f"texts: question {entry['id']}: choices must be a list of at least 2")
        questions.append({"id": entry["id"], "question": entry["question"],
                          "choices": [str(c) for c in choices] if choices else None})
    if len({q["id"] for q in questions}) != len(questions):
        raise ValueError("texts: question ids must be unique")
    return questions


def welcome_text(texts: dict[str, Any], name: str, minutes: int, items: int, training: int, min_play_s: float) -> str:
    return texts["welcome"].format(name=name, minutes=minutes, items=items, training=training,
                                   min_play=f"{min_play_s:g}")


def instructions_text(texts: dict[str, Any], min_play_s: float) -> str:
    return texts["instructions"].format(min_play=f"{min_play_s:g}")
