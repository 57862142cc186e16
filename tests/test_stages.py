import time

from codecbench.stages import StageRecorder, stage


def test_stages_are_timed_only_inside_a_recorder():
    with stage("outside"):
        pass
    with StageRecorder() as recorder:
        for _ in range(2):
            with stage("sleep"):
                time.sleep(0.01)
        with stage("fast"):
            pass
    durations = recorder.durations_ms()
    assert set(durations) == {"sleep", "fast"}
    assert durations["sleep"] >= 20 and durations["fast"] < durations["sleep"]


def test_stage_counts_and_suspension():
    from codecbench.stages import stages_suspended

    with StageRecorder() as recorder:
        for _ in range(3):
            with stage("step"):
                pass
        with stages_suspended():
            with stage("captured"):
                pass
        with stage("after"):
            pass
    assert recorder.counts() == {"step": 3, "after": 1}
    recorder.clear()
    assert recorder.counts() == {} and recorder.durations_ms() == {}
