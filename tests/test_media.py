"""Real-world files: containers, codecs, copied streams, timing, damaged input, batch mode."""

from __future__ import annotations

import dataclasses
import json
import re
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from conftest import data_file, make_clip, make_turned
from streamcolor import Colorizer, media, pipeline
from streamcolor.errors import InputError


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer.from_pretrained(device="cpu")


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "streamcolor", *map(str, args)], capture_output=True, text=True,
                          **kwargs)


def _film_frames(n=20, size=(192, 108)):
    """The first n frames of the sample film, small (real pictures for generated clips)."""
    with av.open(str(data_file("video/film/chaplin.mp4"))) as c:
        frames = []
        for frame in c.decode(video=0):
            frames.append(frame.reformat(width=size[0], height=size[1], format="yuv420p").to_ndarray())
            if len(frames) == n:
                return frames


def _make_clip(path, pts, time_base, rate=None, pix_fmt="yuv420p", codec="libx264"):
    """Encode film frames at the given pts (VFR when the steps differ) in ``pix_fmt``."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = 192, 108, pix_fmt
        s.codec_context.time_base = time_base
        for array, t in zip(_film_frames(len(pts)), pts):
            frame = av.VideoFrame.from_ndarray(array, format="yuv420p").reformat(format=pix_fmt)
            frame.pts, frame.time_base = t, time_base
            c.mux(s.encode(frame))
        c.mux(s.encode(None))


def _planes(path, fmt):
    """Decoded frames of the first video stream as (Y, Cb, Cr) numpy planes in ``fmt``."""
    with av.open(str(path)) as c:
        return [[np.asarray(p) for p in _split(f.reformat(format=fmt))] for f in c.decode(video=0)]


def _split(frame):
    dtype = np.dtype("<u2") if "10" in frame.format.name else np.dtype(np.uint8)
    return [np.frombuffer(p, dtype).reshape(p.height, p.line_size // dtype.itemsize)[:, : p.width]
            for p in frame.planes]


def _pts(path):
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)], c.streams.video[0].time_base


def test_variable_frame_rate_pts_pass_through(colorizer, tmp_path):
    src, dst = tmp_path / "vfr.mkv", tmp_path / "out.mkv"
    steps = [0, 40, 80, 100, 180, 200, 260, 270, 280, 400, 433, 466, 500, 600, 640, 700]
    _make_clip(src, steps, Fraction(1, 1000))
    colorizer.colorize_video(src, dst)
    (src_pts, src_tb), (dst_pts, dst_tb) = _pts(src), _pts(dst)
    assert [p * dst_tb for p in dst_pts] == [p * src_tb for p in src_pts]


def test_exact_2997_fps(colorizer, tmp_path):
    src, dst = tmp_path / "ntsc.mp4", tmp_path / "out.mp4"
    rate = Fraction(30000, 1001)
    _make_clip(src, list(range(15)), 1 / rate, rate=rate)
    colorizer.colorize_video(src, dst)
    with av.open(str(dst)) as c:
        assert c.streams.video[0].average_rate == rate
    assert _pts(dst) == _pts(src)


def test_ten_bit_input_stays_ten_bit(colorizer, tmp_path, caplog):
    src = tmp_path / "deep.mkv"
    _make_clip(src, list(range(12)), Fraction(1, 25), rate=25, pix_fmt="yuv420p10le", codec="libx265")
    colorizer.colorize_video(src, tmp_path / "out.mkv", codec="h265")
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
    source, output = _planes(src, "yuv420p10le"), _planes(tmp_path / "out.mkv", "yuv420p10le")
    assert len(output) == 12
    mse = np.mean([((a[0].astype(float) - b[0]) ** 2).mean() for a, b in zip(source, output)])
    assert 10 * np.log10(1023**2 / mse) > 40  # the source's 10-bit luma, through a lossy encoder
    assert max(np.abs(o[1].astype(int) - 512).mean() for o in output) > 4  # chroma left neutral grey = no colour
    with caplog.at_level("WARNING", logger="streamcolor"):
        colorizer.colorize_video(src, tmp_path / "out.webm")
    assert "cannot write 10-bit" in caplog.text
    with av.open(str(tmp_path / "out.webm")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_gray_pix_fmt_input(colorizer, tmp_path):
    src = tmp_path / "gray.mkv"
    _make_clip(src, list(range(10)), Fraction(1, 25), rate=25, pix_fmt="gray", codec="ffv1")  # a lossless master
    with av.open(str(src)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "gray"
    colorizer.colorize_video(src, tmp_path / "out.mp4")
    output = _planes(tmp_path / "out.mp4", "yuv420p")
    assert len(output) == 10 and max(np.abs(o[2].astype(int) - 128).mean() for o in output) > 1


def test_subtitles_chapters_metadata_rotation_kept(colorizer, tmp_path):
    srt = tmp_path / "fr.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,300\nBonjour\n\n2\n00:00:00,400 --> 00:00:00,700\nAu revoir\n")
    video, src = tmp_path / "v.mkv", tmp_path / "src.mkv"
    _make_clip(video, list(range(20)), Fraction(1, 25), rate=25)
    chapters = [{"id": 1, "start": 0, "end": 400, "time_base": Fraction(1, 1000), "metadata": {"title": "Opening"}},
                {"id": 2, "start": 400, "end": 800, "time_base": Fraction(1, 1000), "metadata": {"title": "End"}}]
    with av.open(str(video)) as v, av.open(str(srt)) as t, av.open(str(src), "w") as o:
        ov, ot = o.add_stream_from_template(v.streams.video[0]), o.add_stream_from_template(t.streams.subtitles[0])
        ov.set_display_rotation(90)
        ov.metadata["language"], ot.metadata["language"], ot.metadata["title"] = "eng", "fra", "Français"
        o.metadata["title"] = "A silent film"
        o.set_chapters(chapters)
        for packet in [*t.demux(t.streams.subtitles[0]), *v.demux(v.streams.video[0])]:
            if packet.size:
                packet.stream = ot if packet.stream.type == "subtitle" else ov
                o.mux(packet)
    assert colorizer.colorize_video(src, tmp_path / "out.mkv").carried_packets == 2
    # an SRT stream cannot go in an MP4 (dropped, with a warning): its packets are not counted as carried over
    assert colorizer.colorize_video(src, tmp_path / "out.mp4").carried_packets == 0
    assert colorizer.colorize_video(src, tmp_path / "segments.mp4", resume=True, segment_frames=5).carried_packets == 0
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.metadata["title"] == "A silent film"
        assert [ch["metadata"]["title"] for ch in c.chapters()] == ["Opening", "End"]
        sub = c.streams.subtitles[0]
        assert (sub.metadata["language"], sub.metadata["title"]) == ("fra", "Français")
        assert c.streams.video[0].metadata["language"] == "eng"
        assert next(c.decode(video=0)).rotation == 90
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size] == [b"Bonjour", b"Au revoir"]


_COUNT_OPENS = """
import sys
from pathlib import Path

import av

source, opened, real_open = Path(sys.argv[1]).resolve(), [], av.open


def counting_open(file, *args, **kwargs):
    if Path(str(file)).resolve() == source:
        opened.append(file)
    return real_open(file, *args, **kwargs)


av.open = counting_open
from streamcolor.cli import main

status = main(sys.argv[2:])
print(f"opened {len(opened)}")
sys.exit(status)
"""


def test_cli_colorize_opens_the_input_twice(tmp_path):
    """probe() reads the stream facts and rotation in one opening and the run passes them on:
    the CLI's early check and the run share that probe, and only the reader opens the file again."""
    src = tmp_path / "clip.mp4"
    _make_clip(src, list(range(12)), Fraction(1, 25), rate=25)
    result = subprocess.run([sys.executable, "-c", _COUNT_OPENS, src, "colorize", src, tmp_path / "out.mp4", "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "opened 2"  # probe + reader (was 6)
    assert len(_pts(tmp_path / "out.mp4")[0]) == 12


@pytest.mark.parametrize("suffix, codec, expect, audio", [
    (".mov", None, "h264", "aac"), (".mkv", "h265", "hevc", "vorbis"), (".webm", None, "vp9", "vorbis"),
    (".avi", None, "h264", "vorbis"), (".mp4", "av1", "av1", "aac"), (".ts", None, "h264", "aac"),
    (".ts", "h265", "hevc", "aac"),
])
def test_containers_and_codecs(colorizer, tmp_path, suffix, codec, expect, audio):
    """Vorbis, which FFmpeg puts in MP4 but players do not play there, and MPEG-TS cannot hold,
    is transcoded to AAC for those; MPEG-TS takes H.264 and H.265 (PyAV's codec list says not)."""
    src = data_file("video/edge/transparent.webm")  # VP9 + Vorbis, 150 frames
    dst = tmp_path / f"out{suffix}"
    report = colorizer.colorize_video(src, dst, codec=codec)
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.codec.canonical_name == expect
        assert sum(1 for _ in c.decode(video=0)) == report.frames == 150
        assert [s.codec_context.codec.canonical_name for s in c.streams.audio] == [audio]


@pytest.mark.parametrize("suffix", [".avi", ".wmv"])
def test_decode_time_containers_show_frames_in_order(colorizer, tmp_path, suffix):
    """AVI and ASF keep one time per packet, its decode time: with B-frames (before session 28)
    frames decoded with times going backwards (0.04, 0.17, 0.13 s ...). (Their demuxers give
    the last frame a time of their own: 1 tick after the one before, or the same.)"""
    src = make_clip(tmp_path / "film.mp4", 64, 48, frames=24)
    colorizer.colorize_video(src, tmp_path / f"out{suffix}")
    times = _seconds(tmp_path / f"out{suffix}")
    assert len(times) == 24 and sorted(times) == times and len(set(times)) >= 23


def _first_seconds(src, dst, seconds, audio_delay=0):
    """Copy the packets of ``src``'s first ``seconds`` (every stream, no re-encoding) to ``dst``,
    the audio ``audio_delay`` seconds later."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        outs = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is not None and packet.dts * packet.time_base < seconds:
                if packet.stream.type == "audio":
                    shift = round(audio_delay / packet.time_base)
                    packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = outs[packet.stream.index]
                o.mux(packet)


def _audio_seconds(path):
    with av.open(str(path)) as c:
        return [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.size]


def test_avi_takes_audio_whose_times_jitter(colorizer, tmp_path):
    """The big_buck_bunny clip's AAC packets are 573 to 1,499 samples apart; AVI counts AAC time
    in frames of 1,024, so two packets rounded to one time and the muxer refused the file
    ("non monotonically increasing dts", before session 29): every packet goes in now."""
    src = tmp_path / "bunny.mp4"
    _first_seconds(data_file("video/color/big_buck_bunny_480p_30s.mp4"), src, 2.5)
    report = colorizer.colorize_video(src, tmp_path / "out.avi")
    with av.open(str(src)) as c:
        audio = sum(1 for p in c.demux(audio=0) if p.size)
    with av.open(str(tmp_path / "out.avi")) as c:
        assert sum(1 for p in c.demux(audio=0) if p.size) == audio == report.carried_packets > 100
        assert c.streams.video[0].average_rate == 24
    assert len(_seconds(tmp_path / "out.avi")) == report.frames == len(_seconds(src))


def test_late_audio_keeps_its_times_in_a_coarser_container(colorizer, tmp_path):
    """Audio that starts 2 s in, copied into Matroska (1 ms ticks): the first packet was once
    kept in the source's ticks, and every later one pushed past it (audio out to 87 s)."""
    src = tmp_path / "late.mp4"
    _first_seconds(data_file("video/color/big_buck_bunny_480p_30s.mp4"), src, 1.5, audio_delay=2)
    colorizer.colorize_video(src, tmp_path / "out.mkv")
    assert np.allclose(_audio_seconds(tmp_path / "out.mkv"), _audio_seconds(src), atol=0.001)


@pytest.mark.parametrize("suffix", [".avi", ".wmv"])
def test_adts_audio_of_mpeg_ts_into_avi_and_asf(colorizer, tmp_path, suffix, caplog):
    """MPEG-TS frames AAC as ADTS, with no AudioSpecificConfig: copied into AVI or ASF, whose
    muxers need it, the run failed ("Invalid argument", before session 29). It is transcoded."""
    src = tmp_path / "broadcast.ts"
    _first_seconds(data_file("video/color/big_buck_bunny_480p_30s.mp4"), src, 1.5)
    with caplog.at_level("WARNING", logger="streamcolor"):
        colorizer.colorize_video(src, tmp_path / f"out{suffix}")
    assert "aac audio as ADTS (MPEG-TS's framing) cannot go in a" in caplog.text
    samples = []
    for path in (src, tmp_path / f"out{suffix}"):
        with av.open(str(path)) as c:
            samples.append(sum(frame.samples for frame in c.decode(audio=0)))
    assert abs(samples[1] - samples[0]) <= 1024  # one AAC frame of encoder priming


def test_rate_grid_is_read_from_the_frames_times(tmp_path):
    """AVI output takes 1/rate only when every frame is on that grid: a Matroska file states one
    frame duration, so its average and base rates agree even where its frames' times do not."""
    on, off = tmp_path / "dropped_frames.mkv", tmp_path / "off_grid.mkv"
    _make_clip(on, [0, 4, 12, 16, 24, 28], Fraction(1, 100), rate=25)
    _make_clip(off, [0, 4, 10, 14, 19, 24], Fraction(1, 100), rate=25)
    assert media.on_rate_grid(on, media.probe(on)) and not media.on_rate_grid(off, media.probe(off))
    assert media.on_rate_grid(data_file("video/film/chaplin.mp4"), media.probe(data_file("video/film/chaplin.mp4")))
    with av.open(str(off)) as c:
        assert c.streams.video[0].average_rate == c.streams.video[0].base_rate == 25
    half_frame = Fraction(1, 50)  # halves go away from 0, as FFmpeg's (Python's round: to even, 0)
    assert media._ticks(1, half_frame, Fraction(1, 25)) == 1 and media._ticks(-1, half_frame, Fraction(1, 25)) == -1


@pytest.mark.parametrize("steps, rate", [([1] * 11, 25), ([1, 2] * 5 + [1], None)])
def test_avi_time_base_is_the_frame_rate(colorizer, tmp_path, steps, rate):
    """AVI's one time base is its frame rate. A constant-rate film is written at 1 / rate (before
    session 29 at FFmpeg's 1/600, with empty chunks between the frames: read as 600 fps and 24
    times the frames); a variable-rate one keeps a fine time base, which can hold its times."""
    src = tmp_path / "film.mp4"
    _make_clip(src, np.cumsum([0] + steps).tolist(), Fraction(1, 25), rate=rate)
    colorizer.colorize_video(src, tmp_path / "out.avi")
    with av.open(str(tmp_path / "out.avi")) as c:
        video = c.streams.video[0]
        fine = video.time_base < Fraction(1, 25)
        assert (fine, video.frames == 12) == ((False, True) if rate else (True, False))
    assert len(set(_seconds(tmp_path / "out.avi"))) == 12


def test_mpeg_program_streams_read_not_written(colorizer, tmp_path):
    """An .mpg holds none of the --codec encoders' video: refused as an output, and a folder
    batch writes such a film as .mkv."""
    films = tmp_path / "films"
    films.mkdir()
    make_clip(films / "reel.mpg", 64, 48, frames=6, codec="mpeg2video")
    with pytest.raises(InputError, match=re.escape(".mpg files are read but not written; use one of .mp4")):
        colorizer.colorize_video(films / "reel.mpg", tmp_path / "reel.mpg")
    assert not (tmp_path / "reel.mpg").exists()
    results = colorizer.colorize_folder(films, tmp_path / "out")
    assert [r.status for r in results] == ["ok"] and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["reel.mkv"]
    assert len(_pts(tmp_path / "out" / "reel.mkv")[0]) == 6


def test_audio_transcoded_only_when_container_needs_it(colorizer, tmp_path, caplog):
    src = data_file("video/edge/video_with_failing_audio.mp4")  # MP3 audio that fails to decode part-way
    kept = tmp_path / "kept.mkv"
    colorizer.colorize_video(src, kept)
    with av.open(str(kept)) as c:
        assert c.streams.audio[0].codec_context.codec.canonical_name == "mp3"
        assert sum(1 for _ in c.decode(video=0)) == 280
    webm = tmp_path / "opus.webm"
    with caplog.at_level("WARNING", logger="streamcolor"):
        colorizer.colorize_video(src, webm)
    assert "mp3 audio cannot go in a .webm file: transcoding it to opus" in caplog.text  # not "mp3float", "libopus"
    with av.open(str(webm)) as c:
        assert c.streams.audio[0].codec_context.codec.canonical_name == "opus"
        assert sum(1 for p in c.demux(audio=0) if p.size) > 100


def test_alpha_dropped_with_warning():
    src = data_file("video/edge/transparent.webm")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        result = run_cli("colorize", src, Path(tmp) / "out.mp4", "--quiet")
    assert result.returncode == 0 and "alpha channel" in result.stderr and "Traceback" not in result.stderr


def test_no_duration_counts_frames(tmp_path):
    src = data_file("video/edge/no_duration.webm")
    result = run_cli("colorize", src, tmp_path / "out.webm")
    assert result.returncode == 0, result.stderr
    assert "74 frames" in result.stdout
    assert "74frame" in result.stderr.replace(" ", "")  # the bar counted frames without a total


def test_truncated_file_keeps_what_decodes(tmp_path):
    src = tmp_path / "cut.mkv"
    with av.open(str(data_file("video/film/chaplin.mp4"))) as i, av.open(str(tmp_path / "whole.mkv"), "w") as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams if s.type in ("video", "audio")}
        for packet in i.demux():
            if packet.size and packet.stream.index in streams:
                packet.stream = streams[packet.stream.index]
                o.mux(packet)
    whole = (tmp_path / "whole.mkv").read_bytes()
    src.write_bytes(whole[: len(whole) // 2])  # cut in the middle (MKV: playable up to the cut)
    result = run_cli("colorize", src, tmp_path / "out.mp4", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "damaged or truncated" in result.stderr
    frames = sum(1 for _ in av.open(str(tmp_path / "out.mp4")).decode(video=0))
    assert 60 < frames < 241


def test_disk_full_leaves_nothing(tmp_path):
    src = data_file("video/film/chaplin.mp4")

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    result = run_cli("colorize", src, tmp_path / "out.mp4", "--quiet", preexec_fn=small_disk)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "failed" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_batch_folder_summary_and_skip(tmp_path):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    _make_clip(inbox / "a.mp4", list(range(10)), Fraction(1, 25), rate=25)
    _make_clip(inbox / "b.mkv", list(range(8)), Fraction(1, 25), rate=25)
    (inbox / "broken.mp4").write_text("not a video")
    first = run_cli("colorize", inbox, outbox, "--quiet")
    assert first.returncode == 1
    assert "2 of 3 done, 1 failed" in first.stdout and "broken.mp4" in first.stdout
    assert sorted(p.name for p in outbox.iterdir()) == ["a.mp4", "b.mkv"]
    second = run_cli("colorize", inbox, outbox, "--quiet")
    assert second.stdout.count("skipped (done)") == 2


def _short_gop_copy(src, dst, gop):
    """``src`` with its video re-encoded with a keyframe every ``gop`` frames, audio copied."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        v = o.add_stream("libx264", rate=i.streams.video[0].average_rate, options={"g": str(gop), "preset": "veryfast"})
        v.width, v.height, v.pix_fmt = i.streams.video[0].width, i.streams.video[0].height, "yuv420p"
        a = o.add_stream_from_template(i.streams.audio[0])
        for packet in i.demux():
            if packet.stream.type == "audio" and packet.size:
                packet.stream = a
                o.mux(packet)
            elif packet.stream.type == "video":
                for frame in packet.decode():
                    frame.pict_type = av.video.frame.PictureType.NONE
                    o.mux(v.encode(frame))
        o.mux(v.encode(None))


def _timing_and_audio(path):
    with av.open(str(path)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = [(p.pts, bytes(p)) for p in c.demux(audio=0) if p.size]
    return pts, audio


def test_killed_run_resumes_from_last_segment(tmp_path):
    src = tmp_path / "film.mp4"
    _short_gop_copy(data_file("video/film/chaplin.mp4"), src, gop=25)
    out = tmp_path / "out.mp4"
    command = [sys.executable, "-m", "streamcolor", "--verbose", "colorize", str(src), str(out), "--quiet", "--resume",
               "--segment-frames", "50"]
    manifest = tmp_path / ".out.mp4.streamcolor-resume" / "manifest.json"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if manifest.exists() and len(json.loads(manifest.read_text())["segments"]) >= 2:
            break
        time.sleep(0.05)
    process.kill()  # SIGKILL: no cleanup runs
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()
    kept = len(json.loads(manifest.read_text())["segments"])
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({kept} finished segments kept)" in resumed.stderr
    assert re.search(r"241 frames \(\d+ kept from the stopped run\)", resumed.stdout)  # its fps: this run's frames
    # an uninterrupted run keeps the source's pts and audio packets (test_pipeline): so must this one
    pts, audio = _timing_and_audio(out)
    assert (pts, audio) == _timing_and_audio(src) and len(pts) == 241 and len(audio) == 369
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4", "out.mp4"]


def _seconds(path):
    with av.open(str(path)) as c:
        return [f.pts * f.time_base for f in c.decode(video=0)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_segments_keep_every_pts(colorizer, tmp_path, suffix):
    """A resumable run's segments join into the pts of a single pass. Before session 28 an MP4's
    later segments came out up to 1 ms early (its edit list, in milliseconds, held their start),
    and Matroska segments, whose first packets have no dts, could not be joined at all."""
    src = make_clip(tmp_path / "film.mp4", 64, 48, frames=24, rate=24, options={"x264-params": "keyint=7"})
    colorizer.colorize_video(src, tmp_path / f"single{suffix}")
    colorizer.colorize_video(src, tmp_path / f"joined{suffix}", resume=True, segment_frames=7)
    assert _seconds(tmp_path / f"joined{suffix}") == _seconds(tmp_path / f"single{suffix}")
    if suffix == ".mp4":
        assert _seconds(tmp_path / "joined.mp4") == _seconds(src) == [Fraction(i, 24) for i in range(24)]


def test_unknown_codec_for_container(tmp_path):
    result = run_cli("colorize", data_file("video/edge/transparent.webm"), tmp_path / "x.webm", "--codec", "h264")
    assert result.returncode == 1 and "cannot hold h264" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_stats_prints_each_stage(tmp_path):
    _make_clip(tmp_path / "a.mp4", list(range(16)), Fraction(1, 25), rate=25)
    result = run_cli("colorize", tmp_path / "a.mp4", tmp_path / "b.mp4", "--quiet", "--stats")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: float(line.split()[1]) for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {"decode", "inference", "temporal", "upsample", "to_yuv", "encode"}
    assert rows["inference"] > 0 and rows["encode"] > 0 and min(rows.values()) >= 0  # tiny stages round to 0.00


def test_strength_zero_gives_grey_video_and_negative_is_refused(tmp_path):
    _make_clip(tmp_path / "a.mp4", list(range(8)), Fraction(1, 25), rate=25)
    assert run_cli("colorize", tmp_path / "a.mp4", tmp_path / "grey.mp4", "--quiet", "--strength", "0").returncode == 0
    assert max(np.abs(f[i].astype(int) - 128).max() for f in _planes(tmp_path / "grey.mp4", "yuv420p") for i in (1, 2)) <= 1
    bad = run_cli("colorize", tmp_path / "a.mp4", tmp_path / "x.mp4", "--strength", "-0.5")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "streamcolor: error: strength (--strength) must be 0 to 4 (0 = grey, 1 = the model's colour), got -0.5"]
    bad = run_cli("colorize", tmp_path / "a.mp4", tmp_path / "x.mp4", "--infer-every", "0")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "streamcolor: error: infer_every (--infer-every) must be a whole number, 1 or more, got 0"]
    assert not (tmp_path / "x.mp4").exists()


def test_frames_in_flight_stay_bounded_on_a_long_clip(colorizer, tmp_path, monkeypatch):
    # 600 frames, far more than the reader queue (32 items) + a batch (8) + the encode queue
    # (32 frames) hold together: frames decoded and not yet handed to the encoder must stay
    # under that bound however long the clip (an unbounded queue would let the fast decoder
    # run hundreds of frames ahead)
    src = tmp_path / "long.mp4"
    film = _film_frames(100)
    with av.open(str(src), "w") as c:
        stream = c.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 192, 108, "yuv420p"
        for i in range(600):
            c.mux(stream.encode(av.VideoFrame.from_ndarray(film[i % len(film)], format="yuv420p")))
        c.mux(stream.encode(None))
    decoded, in_flight = [0], []

    class CountedFrame(media.Frame):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            decoded[0] += 1

    write = media.VideoWriter.write

    def counted_write(self, frame):
        in_flight.append(decoded[0] - len(in_flight) - 1)
        write(self, frame)

    monkeypatch.setattr(media, "Frame", CountedFrame)
    monkeypatch.setattr(media.VideoWriter, "write", counted_write)
    report = colorizer.colorize_video(src, tmp_path / "out.mp4")
    assert report.frames == len(in_flight) == 600
    with media.VideoReader(src) as reader:
        bound = media.read_queue_size(reader.info) + 1 + 8 + pipeline.encode_queue_size(reader.info) + 1
    assert max(in_flight) <= bound
    assert max(in_flight) > 32  # the queues did fill: the bound above was tested, not idle


def test_encode_queue_shrinks_for_large_pictures():
    with media.VideoReader(data_file("video/color/big_buck_bunny_480p_30s.mp4")) as reader:
        info = reader.info
    assert pipeline.encode_queue_size(info) == 32  # 854x480: 52 MB of jobs
    assert pipeline.encode_queue_size(dataclasses.replace(info, width=1920, height=1080)) == 32  # 265 MB
    assert pipeline.encode_queue_size(dataclasses.replace(info, width=2048, height=1556)) == 21  # a 2K scan
    assert pipeline.encode_queue_size(dataclasses.replace(info, width=3840, height=2160)) == 8  # not 1 GB


def test_read_queue_shrinks_for_large_pictures():
    with media.VideoReader(data_file("video/color/big_buck_bunny_480p_30s.mp4")) as reader:
        info = reader.info
        assert reader._queue.maxsize == media.read_queue_size(info) == 32  # 854x480: 13 MB of Y'
    assert media.read_queue_size(dataclasses.replace(info, width=1920, height=1080)) == 32  # 66 MB
    assert media.read_queue_size(dataclasses.replace(info, width=3840, height=2160)) == 8  # not 265 MB
    assert media.read_queue_size(dataclasses.replace(info, width=3840, height=2160, bit_depth=10)) == 8


def test_odd_and_tiny_frame_sizes(colorizer, tmp_path, caplog):
    """Issue 28 item 3: an odd size is padded by one repeated pixel for H.264 (a warning) and
    kept by VP9; frames too small for optical flow are colorized without motion smoothing."""
    src = make_clip(tmp_path / "odd.mkv", 641, 361, frames=3, codec="ffv1")
    colorizer.colorize_video(src, tmp_path / "odd.mp4", crf=0)  # lossless: the picture can be compared
    assert "641x361 has an odd side" in caplog.text and "642x362" in caplog.text
    source, padded = _planes(src, "yuv420p")[0][0], _planes(tmp_path / "odd.mp4", "yuv420p")[0][0]
    assert padded.shape == (362, 642)
    assert np.array_equal(padded[:361, :641], source)
    assert np.array_equal(padded[361, :641], padded[360, :641]) and np.array_equal(padded[:, 641], padded[:, 640])
    colorizer.colorize_video(src, tmp_path / "odd.webm", codec="vp9")
    assert _planes(tmp_path / "odd.webm", "yuv420p")[0][0].shape == (361, 641)
    for width, height in [(1, 1), (2, 2), (2000, 16)]:
        tiny = make_clip(tmp_path / f"{width}x{height}.mkv", width, height, frames=3, codec="ffv1")
        report = colorizer.colorize_video(tiny, tmp_path / f"{width}x{height}.mp4")
        assert report.frames == 3
        frames = list(colorizer.colorize_frames(np.zeros((3, height, width), np.uint8)))
        assert len(frames) == 3 and frames[0].shape == (height, width, 3)
    assert "too small for optical flow" in caplog.text and "colorized without motion smoothing" in caplog.text
    thin = make_clip(tmp_path / "thin.mkv", 128, 24, frames=3, codec="ffv1")
    with pytest.raises(InputError, match="SVT-AV1.* never finishes 128x24"):  # it would encode forever
        colorizer.colorize_video(thin, tmp_path / "thin.mkv.webm", codec="av1")
    assert not (tmp_path / "thin.mkv.webm").exists()
    caplog.clear()
    with pytest.raises(InputError, match="x265.* refuses 1x1"):  # refused before the padding is announced
        colorizer.colorize_video(tmp_path / "1x1.mkv", tmp_path / "one.mp4", codec="h265")
    assert "odd side" not in caplog.text and not (tmp_path / "one.mp4").exists()
    colorizer.colorize_video(make_clip(tmp_path / "64x16.mkv", 64, 16, frames=3, codec="ffv1"),
                             tmp_path / "64x16.webm", codec="av1")


def _two_video_streams(path):
    """An MP4 with two H.264 video streams (a film and, say, a sign-language inset)."""
    with av.open(str(path), "w") as c:
        streams = [c.add_stream("libx264", rate=25) for _ in range(2)]
        for s, (w, h) in zip(streams, [(64, 48), (32, 24)]):
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(4):
            for s in streams:
                frame = av.VideoFrame.from_ndarray(np.full((s.height, s.width, 3), 40 * i, np.uint8), format="rgb24")
                frame.pts = i
                c.mux(s.encode(frame))
        for s in streams:
            c.mux(s.encode(None))


def _packets(path, index):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams[index]) if p.size]


def test_second_video_stream_and_field_order_kept(colorizer, tmp_path, caplog):
    """Issue 28 item 8: a second video stream is copied (a warning), the field order of
    interlaced video is kept with H.264 and warned about otherwise."""
    _two_video_streams(tmp_path / "two.mp4")
    colorizer.colorize_video(tmp_path / "two.mp4", tmp_path / "two_out.mp4")
    with av.open(str(tmp_path / "two_out.mp4")) as c:
        assert [(s.width, s.height) for s in c.streams.video] == [(64, 48), (32, 24)]
    assert _packets(tmp_path / "two_out.mp4", 1) == _packets(tmp_path / "two.mp4", 1)
    assert "video stream 1 is copied as it is" in caplog.text
    for order, flag in [(2, "tff"), (3, "bff")]:
        src = make_clip(tmp_path / f"{flag}.mp4", 64, 48, options={"x264-params": f"{flag}=1"})
        colorizer.colorize_video(src, tmp_path / f"{flag}_out.mp4")
        for path in (src, tmp_path / f"{flag}_out.mp4"):
            with av.open(str(path)) as c:
                assert c.streams.video[0].codec_context.field_order == order, path
    colorizer.colorize_video(tmp_path / "tff.mp4", tmp_path / "tff_out.webm")
    assert "interlaced (field order tt) and vp9" in caplog.text
    caplog.clear()  # a resumed run writes a file per segment, and warns once
    src = make_clip(tmp_path / "tff_gop2.mp4", 64, 48, frames=12, options={"x264-params": "tff=1:keyint=2"})
    colorizer.colorize_video(src, tmp_path / "tff_segments.webm", resume=True, segment_frames=2)
    assert caplog.text.count("interlaced (field order tt)") == 1 and caplog.text.count("too small for optical") == 1


def test_still_image_truncated_mp4_and_suffixes_named(colorizer, tmp_path, caplog):
    """Issue 28 item 10: a still image is refused (not a 1-frame film), an MP4 cut before its
    index says it looks truncated, unusable suffixes list the usable ones, and a cut file
    with no unreadable packet does not report '0 unreadable packets'."""
    import cv2

    cv2.imwrite(str(tmp_path / "still.png"), np.full((48, 64, 3), 128, np.uint8))
    whole = make_clip(tmp_path / "whole.mp4", 64, 48, frames=50).read_bytes()
    assert whole.find(b"moov") > whole.find(b"mdat")  # the index is written last
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "notes.xyz").write_text("not a film")
    (tmp_path / "text.mp4").write_text("not a film")  # FFmpeg logs 'moov atom not found' for it too
    for src, dst, message in [
        ("still.png", "a.mp4", "is a still image, not a video (photos are colorized by the demo's"),
        ("text.mp4", "a.mp4", "cannot read"),
        ("cut.mp4", "a.mp4", "looks truncated or unfinished: its index (the MP4 'moov' box"),
        ("whole.mp4", "a.gif", ".gif is not a video file suffix; use one of .mp4, .mov, .mkv"),
        ("notes.xyz", "a.mp4", ".xyz is not a video file suffix; use one of .mp4, .mov, .mkv"),
    ]:
        with pytest.raises(InputError, match=re.escape(message)):
            colorizer.colorize_video(tmp_path / src, tmp_path / dst)
        assert not (tmp_path / dst).exists()
    make_clip(tmp_path / "whole.mkv", 64, 48, frames=75)
    with av.open(str(tmp_path / "whole.mkv")) as c:  # cut after a packet: every packet left is whole
        ends = [p.pos + p.size for p in c.demux(video=0) if p.size]
    (tmp_path / "short.mkv").write_bytes((tmp_path / "whole.mkv").read_bytes()[: ends[24]])
    colorizer.colorize_video(tmp_path / "short.mkv", tmp_path / "short.mp4")
    assert "short.mkv is damaged or truncated (pictures end at" in caplog.text
    assert "unreadable" not in caplog.text


def _interrupted_run(colorizer, src, dst, **options):
    """A resumable run stopped by Ctrl-C once two segments of 7 frames are finished."""
    def stop(frames_done, _frame):
        if frames_done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colorizer.colorize_video(src, dst, resume=True, segment_frames=7, batch_size=8, on_batch=stop, **options)


@pytest.mark.parametrize("change", ["same", "weights", "reference"])
def test_resume_keeps_segments_only_for_the_same_model_and_references(colorizer, tmp_path, caplog, change):
    """Before session 30 a resume kept the segments of another model of the same name (every
    training run's final/ is named after its architecture) or of other reference frames."""
    src = make_clip(tmp_path / "film.mp4", 192, 108, frames=24, rate=24, options={"x264-params": "keyint=7"})
    dst = tmp_path / "out.mp4"
    _interrupted_run(colorizer, src, dst)
    again = colorizer
    if change == "weights":
        again = Colorizer.from_pretrained(device="cpu")  # its own copy of the weights, the same settings
        with torch.no_grad():
            next(again.model.parameters()).mul_(1.01)
    references = {3: np.full((108, 192, 3), (200, 40, 40), np.uint8)} if change == "reference" else None
    with caplog.at_level("INFO", logger="streamcolor"):
        again.colorize_video(src, dst, resume=True, segment_frames=7, batch_size=8, references=references)
    assert ("finished segments kept" in caplog.text) == (change == "same")
    assert not (tmp_path / ".out.mp4.streamcolor-resume").exists()


def test_transcoded_audio_keeps_its_start(colorizer, tmp_path):
    """AAC into WebM is transcoded to Opus; until session 31 the new audio started at 0 whatever
    the source's start (here 0.5 s late: half a second out of sync)."""
    src = tmp_path / "late.mkv"
    _first_seconds(data_file("video/color/big_buck_bunny_480p_30s.mp4"), src, 1.5, audio_delay=0.5)
    colorizer.colorize_video(src, tmp_path / "out.webm")
    assert abs(_audio_seconds(tmp_path / "out.webm")[0] - _audio_seconds(src)[0]) < 0.03  # Opus' priming


def _with_audio(dst, audio_codec, layout="stereo", cover=False, video_options=None):
    """A 1 s clip of 25 frames (x264 with ``video_options``) and a 440 Hz tone in ``audio_codec``;
    with ``cover``, the audio and a JPEG cover image only (as an .m4a with album art)."""
    rate = 48000
    with av.open(str(dst), "w") as o:
        audio = o.add_stream(audio_codec, rate=rate, layout=layout)
        if cover:
            picture = o.add_stream("mjpeg", rate=1)
            picture.width, picture.height, picture.pix_fmt = 64, 64, "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
            image = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
            for packet in [*picture.encode(image.reformat(format="yuvj420p")), *picture.encode(None)]:
                o.mux(packet)
        else:
            video = o.add_stream("libx264", rate=25, options=video_options or {})
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            for i in range(25):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * i, np.uint8), format="rgb24")
                frame.pts = i
                o.mux(video.encode(frame))
            o.mux(video.encode(None))
        channels = av.AudioLayout(layout).nb_channels
        tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.tile(tone, (channels, 1)), format="fltp", layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            o.mux(packet)
    return dst


@pytest.mark.parametrize("source, suffix", [("flac.mkv", ".mov"), ("pcm.mov", ".mp4"), ("pcm.mkv", ".mp4")])
def test_audio_the_container_refuses_is_transcoded(colorizer, tmp_path, source, suffix, caplog):
    """Until session 31 each failed with a bare "Invalid argument": FFmpeg lists FLAC and Opus
    for QuickTime but refuses them there, and has no MP4 tag for PCM."""
    codec = {"flac": "flac", "pcm": "pcm_s16le"}[source.split(".")[0]]
    src = _with_audio(tmp_path / source, codec)
    report = colorizer.colorize_video(src, tmp_path / f"out{suffix}")
    assert report.frames == 25 and f"audio cannot go in a {suffix} file: transcoding it to aac" in caplog.text
    with av.open(str(tmp_path / f"out{suffix}")) as c:
        assert [s.codec_context.codec.canonical_name for s in c.streams.audio] == ["aac"]


def test_an_audio_file_with_a_cover_image_is_no_video(colorizer, tmp_path):
    """Until session 31 an .m4a with album art was "colorized" as a one-frame video of the cover,
    with a warning that the file was damaged, and exit 0."""
    src = _with_audio(tmp_path / "song.mp4", "aac", cover=True)
    with pytest.raises(InputError, match=r"has no video stream \(only a cover image\)"):
        colorizer.colorize_video(src, tmp_path / "out.mp4")


def test_dispositions_and_video_tags_are_kept(colorizer, tmp_path):
    """Until session 31 every stream of a Matroska output lost its "default" flag (which audio
    track players pick), and the video lost its tags but title and language."""
    src, two = tmp_path / "src.mkv", tmp_path / "two.mkv"
    _first_seconds(data_file("video/color/big_buck_bunny_480p_30s.mp4"), src, 1.0)
    with av.open(str(src)) as i, av.open(str(two), "w") as o:
        outs = [o.add_stream_from_template(i.streams.video[0]), *(o.add_stream_from_template(i.streams.audio[0])
                                                                  for _ in range(2))]
        outs[0].metadata["comment"] = "scan of the 1936 print"
        outs[0].disposition = outs[1].disposition = av.stream.Disposition.default
        outs[2].disposition = av.stream.Disposition.comment
        for packet in i.demux():
            if packet.size:
                for out in outs[1:] if packet.stream.type == "audio" else outs[:1]:
                    copy = av.Packet(bytes(packet))
                    copy.pts, copy.dts, copy.time_base, copy.stream = packet.pts, packet.dts, packet.time_base, out
                    o.mux(copy)
    colorizer.colorize_video(two, tmp_path / "out.mkv")
    with av.open(str(two)) as i, av.open(str(tmp_path / "out.mkv")) as o:
        assert [s.disposition for s in o.streams] == [s.disposition for s in i.streams]
        tags = {k.lower(): v for k, v in o.streams.video[0].metadata.items()}  # Matroska's are upper case
        assert tags["comment"] == "scan of the 1936 print"
        assert "encoder" not in tags  # the source's encoder: not this video's


def test_resumed_matroska_keeps_the_frame_rate(colorizer, tmp_path):
    """A resumed run joins its segments' video as it is; Matroska then said 1000 fps (its time
    base) until session 31."""
    src = make_clip(tmp_path / "film.mp4", 64, 48, frames=30, options={"g": "8"})
    colorizer.colorize_video(src, tmp_path / "out.mkv", resume=True, segment_frames=8)
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.streams.video[0].average_rate == 25


def test_avi_with_b_frames_is_read_in_display_order(colorizer, tmp_path):
    """AVI keeps decode times only: FFmpeg gives each picture of a B-frame stream a time out of
    order, and writing them failed ("non monotonically increasing dts") until session 31."""
    src = make_clip(tmp_path / "film.avi", 64, 48, frames=24)  # x264's defaults: B-frames
    colorizer.colorize_video(src, tmp_path / "out.mkv")
    source, output = _planes(src, "yuv420p"), _planes(tmp_path / "out.mkv", "yuv420p")
    same = [np.abs(a[0].astype(int) - b[0]).mean() for a, b in zip(source, output)]
    next_one = [np.abs(a[0].astype(int) - b[0]).mean() for a, b in zip(source[1:], output)]
    assert len(output) == 24 and all(s < n for s, n in zip(same, next_one)) and max(same) < 5


def test_rgb_source_is_not_tagged_rgb(colorizer, tmp_path):
    """An RGB source's matrix ("GBR") was copied onto the YUV output until session 31, telling
    players that honour it to read Y, Cb, Cr as G, B, R."""
    src = make_clip(tmp_path / "rgb.mkv", 64, 48, codec="libx264rgb", pix_fmt="rgb24")
    colorizer.colorize_video(src, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].codec_context.colorspace != 0


def test_rotation_a_container_cannot_store_is_warned(colorizer, tmp_path, caplog):
    rotated = make_turned(make_clip(tmp_path / "v.mp4", 64, 48), tmp_path / "rotated.mp4")
    colorizer.colorize_video(rotated, tmp_path / "out.avi")
    assert "a .avi file cannot say the picture is to be turned 90 degrees" in caplog.text


def test_two_runs_into_one_output(tmp_path):
    """Until session 31 a second run wrote into the first one's part file, then failed with a
    FileNotFoundError traceback. The part file is locked while written: the second run is
    refused, and a part file left by a killed run is taken over."""
    src = make_clip(tmp_path / "film.mp4", 64, 48)
    info, dst = media.probe(src), tmp_path / "out.mp4"
    first = media.VideoWriter(dst, info, [])
    with pytest.raises(InputError, match="another run is writing .*out.mp4' now"):
        media.VideoWriter(dst, info, [])
    assert first.tmp.exists()  # the refused run leaves the first one's file alone
    first.discard()
    (tmp_path / ".out.streamcolor-part.mp4").write_bytes(b"left by a killed run")
    with media.VideoWriter(dst, info, []) as again:
        again.commit()
    assert dst.exists() and not first.tmp.exists()


def test_transcoded_audio_whose_times_go_back(colorizer, tmp_path):
    """Two MPEG-TS recordings joined as one: the audio's times start over half-way. Transcoded
    (into WebM), its frames kept their times from session 31 on, and the encoder refused the
    file until they were kept from going back."""
    bunny, joined = data_file("video/color/big_buck_bunny_480p_30s.mp4"), tmp_path / "joined.ts"
    parts = [tmp_path / "a.ts", tmp_path / "b.ts"]
    for (start, end, audio_shift), part in zip([(0, 1, 0), (1, 2, -0.5)], parts):  # b's audio starts 0.5 s back
        with av.open(str(bunny)) as i, av.open(str(part), "w") as o:
            outs = {s.index: o.add_stream_from_template(s) for s in i.streams}
            for packet in i.demux():
                if packet.dts is not None and start <= packet.dts * packet.time_base < end:
                    if packet.stream.type == "audio":
                        shift = round(audio_shift / packet.time_base)
                        packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                    packet.stream = outs[packet.stream.index]
                    o.mux(packet)
    joined.write_bytes(parts[0].read_bytes() + parts[1].read_bytes())
    colorizer.colorize_video(joined, tmp_path / "out.webm")
    seconds = _audio_seconds(tmp_path / "out.webm")
    assert len(seconds) > 60 and seconds == sorted(seconds)


def test_a_damaged_avi_keeps_the_times_of_what_decodes(colorizer, tmp_path):
    """The pictures after unreadable packets took the lost pictures' times (0.24 s early) in a
    first version of the AVI re-stamping (session 31)."""
    src, damaged = make_clip(tmp_path / "film.avi", 64, 48, frames=30, codec="mjpeg", pix_fmt="yuvj420p"), \
        tmp_path / "damaged.avi"
    with av.open(str(src)) as i, av.open(str(damaged), "w") as o:
        out = o.add_stream_from_template(i.streams.video[0])
        for n, packet in enumerate(p for p in i.demux() if p.size):
            copy = av.Packet(b"\0" * 64 if 10 <= n < 16 else bytes(packet))
            copy.pts, copy.dts, copy.time_base, copy.stream = packet.pts, packet.dts, packet.time_base, out
            copy.is_keyframe = True
            o.mux(copy)
    colorizer.colorize_video(damaged, tmp_path / "out.mkv")
    times = _seconds(tmp_path / "out.mkv")
    assert len(times) == 24 and times[-1] == pytest.approx(29 / 25) and times[10] == pytest.approx(16 / 25)


def test_opus_takes_a_three_channel_source(colorizer, tmp_path):
    """libopus takes Vorbis' channel orders only: a 2.1 source failed with "Invalid argument"."""
    src = _with_audio(tmp_path / "src.mkv", "pcm_s16le", layout="2.1")
    colorizer.colorize_video(src, tmp_path / "out.webm")
    with av.open(str(tmp_path / "out.webm")) as c:
        assert c.streams.audio[0].codec_context.channels == 3


def test_webm_alpha_tag_is_not_copied(colorizer, tmp_path):
    """The output has no alpha: the source's ``alpha_mode`` tag would say it has (session 31's
    first version of copying the video's tags)."""
    colorizer.colorize_video(data_file("video/edge/transparent.webm"), tmp_path / "out.webm")
    with av.open(str(tmp_path / "out.webm")) as c:
        assert "alpha_mode" not in {k.lower() for k in c.streams.video[0].metadata}


def test_part_file_without_locks(tmp_path, monkeypatch):
    """Where the filesystem has no locks (NFS mounted nolock: ENOLCK), the part file is written
    unguarded; a first version of the lock gave a traceback there."""
    import errno
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    src = make_clip(tmp_path / "film.mp4", 64, 48)
    with media.VideoWriter(tmp_path / "out.mp4", media.probe(src), []) as writer:
        writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4", "out.mp4"]


def test_recordings_joined_as_one_are_made_continuous(colorizer, tmp_path):
    """Two MPEG-TS recordings joined as one file (``cat a.ts b.ts``): both start near 0, so
    half-way every stream's time goes back 1 s. Before session 32 the writer refused
    the file ("Invalid argument"); now times continue as FFmpeg's own tool makes them, and a
    resumed run, which seeks by the source's times, is refused in one line."""
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(_with_audio(tmp_path / f"{name}.ts", "aac").read_bytes() for name in "ab"))
    colorizer.colorize_video(joined, tmp_path / "out.mp4")
    pts, time_base = _pts(tmp_path / "out.mp4")
    steps = np.diff(pts) * float(time_base)
    assert len(pts) == 50 and 0.039 < steps.min() and steps.max() < 0.1  # both parts move together: a gap at the join
    audio = _audio_seconds(tmp_path / "out.mp4")
    assert audio == sorted(audio) and audio[-1] - audio[0] > 1.9
    with pytest.raises(InputError, match="times that jump"):
        colorizer.colorize_video(joined, tmp_path / "resumed.mp4", resume=True, segment_frames=7)


@pytest.mark.parametrize("suffix, codec, options", [(".ts", "libx264", {"x264-params": "keyint=7"}),
                                                    (".mpg", "mpeg2video", {"g": "7"})])
def test_a_resumed_mpeg_ts_or_ps_keeps_every_frame(colorizer, tmp_path, suffix, codec, options):
    """MPEG-TS and -PS have no index: a seek to a keyframe landed one keyframe late, and until
    session 32 a resumed run lost the frames between (216 of chaplin's 241, exit 0)."""
    src = make_clip(tmp_path / f"film{suffix}", 64, 48, frames=40, codec=codec, options=options)
    colorizer.colorize_video(src, tmp_path / "single.mp4")
    _interrupted_run(colorizer, src, tmp_path / "joined.mp4")
    colorizer.colorize_video(src, tmp_path / "joined.mp4", resume=True, segment_frames=7, batch_size=8)
    assert len(_seconds(tmp_path / "single.mp4")) == 40
    assert _seconds(tmp_path / "joined.mp4") == _seconds(tmp_path / "single.mp4")


@pytest.mark.parametrize("suffix", [".ts", ".flv"])
def test_resumed_mpeg_ts_and_flv_keep_their_times(colorizer, tmp_path, suffix):
    """Their muxers move each part's times on by x264's B-frame delay; joined, the resumed
    video came out 80 ms late against its audio until session 32."""
    src = _with_audio(tmp_path / "film.mp4", "aac", video_options={"x264-params": "keyint=7"})
    colorizer.colorize_video(src, tmp_path / f"single{suffix}")
    colorizer.colorize_video(src, tmp_path / f"joined{suffix}", resume=True, segment_frames=7)
    for name in ("single", "joined"):
        assert len(_seconds(tmp_path / f"{name}{suffix}")) == 25
    lead = [_seconds(tmp_path / f"{name}{suffix}")[0] - _audio_seconds(tmp_path / f"{name}{suffix}")[0]
            for name in ("single", "joined")]
    assert abs(lead[1] - lead[0]) < 0.005


def _chroma_planes(path):
    with av.open(str(path)) as c:
        return [np.stack(_split(f)[1:]).astype(float) for f in c.decode(video=0)]


def test_resume_redoes_a_damaged_segment_and_warms_up_on_enough_frames(colorizer, tmp_path, caplog):
    """Session 32's review: a segment left empty by a power cut made every later resume fail
    ("cannot read a finished segment"); short segments warmed the engine up on a few frames
    only, and the colour jumped at the join (0.76 from an uninterrupted run's)."""
    src = make_clip(tmp_path / "film.mp4", 192, 108, frames=40, options={"x264-params": "keyint=4"})
    lossless = dict(crf=0, preset="ultrafast", segment_frames=4, batch_size=8)
    colorizer.colorize_video(src, tmp_path / "single.mp4", crf=0, preset="ultrafast")

    def stop(frames_done, _frame):
        if frames_done >= 24:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colorizer.colorize_video(src, tmp_path / "joined.mp4", resume=True, on_batch=stop, **lossless)
    folder = tmp_path / ".joined.mp4.streamcolor-resume"
    (folder / "segment_00001.mp4").write_bytes(b"")  # renamed into place, its data never written
    colorizer.colorize_video(src, tmp_path / "joined.mp4", resume=True, **lossless)
    assert "segment 1 of the resumed run is damaged" in caplog.text
    single, joined = _chroma_planes(tmp_path / "single.mp4"), _chroma_planes(tmp_path / "joined.mp4")
    assert len(joined) == len(single) == 40
    assert max(np.abs(a - b).mean() for a, b in zip(single, joined)) < 0.1  # 1.04 with the old warm-up


def test_a_second_resumable_run_of_one_output_is_refused_before_any_work(colorizer, tmp_path):
    """It deleted the first run's folder and wrote into its segments until session 32."""
    from streamcolor.segments import SegmentStore

    src, dst = make_clip(tmp_path / "film.mp4", 64, 48, frames=8), tmp_path / "out.mp4"
    first = SegmentStore(dst, {"run": 1}, media.video_frames)
    (first.folder / "segment_00000.mp4").write_bytes(b"the first run's")
    try:
        with pytest.raises(InputError, match="another run is writing"):
            colorizer.colorize_video(src, dst, resume=True)
        assert (first.folder / "segment_00000.mp4").read_bytes() == b"the first run's"
    finally:
        first.release()


def test_a_long_output_name_is_written(colorizer, tmp_path):
    """A 240-character name is valid, but its hidden work files' names were not: refused, and a
    traceback with --resume, until session 32."""
    src = make_clip(tmp_path / "film.mp4", 64, 48, frames=4)
    for resume in (False, True):
        dst = tmp_path / f"{'x' * 236}{int(resume)}.mp4"
        colorizer.colorize_video(src, dst, resume=resume)
        assert len(_pts(dst)[0]) == 4
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _shifted_copy(src, dst, seconds, stream_type=None):
    """``src``'s packets copied to ``dst``, those of ``stream_type`` (all: None) ``seconds`` later."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        outs = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.size:
                if stream_type in (None, packet.stream.type):
                    shift = round(seconds / packet.time_base)
                    packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = outs[packet.stream.index]
                o.mux(packet)
    return dst


def test_a_gap_in_a_recording_is_kept(colorizer, tmp_path, caplog):
    """A recording whose times go forward (a 12 s gap: the signal was lost) keeps them; session
    32's first handling of jumps closed such gaps, moved sparse streams and warned "damaged"."""
    first = _with_audio(tmp_path / "a.ts", "aac")
    later = _shifted_copy(first, tmp_path / "b.ts", 12)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + later.read_bytes())
    colorizer.colorize_video(joined, tmp_path / "out.mp4")
    seconds = np.diff([float(t) for t in _seconds(tmp_path / "out.mp4")])
    assert len(seconds) == 49 and 11.0 < seconds.max() < 11.1 and "damaged" not in caplog.text  # 1 s, then 12 s on


def test_three_recordings_whose_video_outlasts_the_audio_are_joined(colorizer, tmp_path):
    """Three recordings joined, each one's video 0.3 s after its audio: every stream's times
    go on and the frames stay 0.04 s apart. (The ffmpeg-made files on which a first rewrite of
    session 32 failed are interleaved otherwise by PyAV's muxer and are not made here.)"""
    late = _shifted_copy(_with_audio(tmp_path / "part.ts", "aac"), tmp_path / "late.ts", 0.3, "video")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(late.read_bytes() * 3)
    colorizer.colorize_video(joined, tmp_path / "out.mkv")
    steps = np.diff([float(t) for t in _seconds(tmp_path / "out.mkv")])
    audio = _audio_seconds(tmp_path / "out.mkv")
    assert len(steps) == 74 and steps.min() > 0.03 and audio == sorted(audio)
