"""Synthesize the demo clips for msft (multi-scale constant-Q transform).

Run ``python sample_audio/make_samples.py``. It writes four 16-bit PCM WAV
files at 44.1 kHz next to this script:

* ``house_beat.wav``       - four-on-the-floor house drums, 122 BPM, stereo
* ``techno_bassline.wav``  - techno drums with a resonant acid bass, 130 BPM, stereo
* ``thai_pentatonic.wav``  - ranat-ek-like xylophone melody with ching, stereo
* ``bach_additive.wav``    - opening of Bach's Prelude in C major (BWV 846),
                             additive piano, mono

All randomness comes from ``numpy.random.default_rng`` with fixed seeds and
nothing depends on the clock, so repeated runs produce byte-identical files.
Dependencies: numpy, scipy, soundfile.
"""

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SR = 44100
OUT_DIR = Path(__file__).resolve().parent
PEAK = 10 ** (-1 / 20)  # -1 dBFS
EDGE_FADE_S = 0.005


# --------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------

def time_axis(duration):
    """Sample times (s) of a signal lasting ``duration`` seconds."""
    return np.arange(int(round(duration * SR))) / SR


def new_buffer(duration, channels):
    return np.zeros((channels, int(round(duration * SR))))


def place(buf, sound, start, gain=1.0, pan=0.0):
    """Mix mono ``sound`` into ``buf`` (channels x samples) at ``start`` seconds.

    ``pan`` in [-1, 1] uses an equal-power law; it is ignored for mono buffers.
    """
    i = int(round(start * SR))
    n = min(len(sound), buf.shape[1] - i)
    if n <= 0:
        return
    theta = (pan + 1) * np.pi / 4
    gains = [np.cos(theta), np.sin(theta)] if buf.shape[0] == 2 else [1.0]
    for ch, g in enumerate(gains):
        buf[ch, i:i + n] += gain * g * sound[:n]


def butter(x, btype, freq, order=2):
    sos = signal.butter(order, freq, btype=btype, fs=SR, output="sos")
    return signal.sosfilt(sos, x)


def reverb(buf, rng, decay=0.6, mix=0.12):
    """Small room: convolve with decaying, low-passed noise (one IR per channel)."""
    t = time_axis(decay * 2)
    wet = np.empty_like(buf)
    for ch in range(buf.shape[0]):
        ir = butter(rng.standard_normal(len(t)), "lowpass", 6000) * np.exp(-t * 6.9 / decay)
        wet[ch] = signal.fftconvolve(buf[ch], ir / np.sqrt(np.sum(ir ** 2)))[:buf.shape[1]]
    return buf + mix * wet


def write_clip(name, buf):
    """Apply edge fades, peak-normalize to -1 dBFS and write 16-bit PCM."""
    n = int(EDGE_FADE_S * SR)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    buf = buf.copy()
    buf[:, :n] *= ramp
    buf[:, -n:] *= ramp[::-1]
    buf *= PEAK / np.max(np.abs(buf))
    sf.write(OUT_DIR / name, buf.T, SR, subtype="PCM_16")


# --------------------------------------------------------------------------
# Drum voices
# --------------------------------------------------------------------------

def kick(rng, f_start=160.0, f_end=48.0, decay=0.2):
    """Sine with an exponential pitch drop plus a short noise click."""
    t = time_axis(decay * 3)
    freq = f_end + (f_start - f_end) * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / decay)
    click = butter(rng.standard_normal(len(t)), "lowpass", 3000) * np.exp(-t / 0.002)
    return np.tanh(1.5 * body) + 0.3 * click


def clap(rng):
    """Three quick band-passed noise bursts followed by a short tail."""
    t = time_axis(0.35)
    env = sum(np.exp(-(t - d) / 0.005) * (t >= d) for d in (0.0, 0.010, 0.021))
    env = env + 0.5 * np.exp(-(t - 0.021) / 0.07) * (t >= 0.021)
    return butter(rng.standard_normal(len(t)), "bandpass", (900, 3500)) * env


def hihat(rng, decay):
    """High-passed noise; a short ``decay`` gives a closed hat, a long one an open hat."""
    t = time_axis(decay * 6)
    noise = butter(rng.standard_normal(len(t)), "highpass", 7000, order=4)
    return noise * np.exp(-t / decay)


def drum_pattern(buf, rng, bpm, open_hat_decay):
    """Kick on every beat, clap on 2 and 4, open hats on the off-beats, closed hats in 16ths."""
    step = 60 / bpm / 4
    for s in range(int(buf.shape[1] / SR / step) + 1):
        t = s * step
        if s % 4 == 0:
            place(buf, kick(rng), t, 1.0)
        if s % 8 == 4:
            place(buf, clap(rng), t, 0.55, pan=0.05)
        if s % 4 == 2:
            place(buf, hihat(rng, open_hat_decay), t, 0.32, pan=0.3)
        else:
            accent = 1.0 if s % 2 == 0 else 0.6
            place(buf, hihat(rng, 0.03), t, 0.28 * accent, pan=-0.35 if s % 2 else 0.15)


# --------------------------------------------------------------------------
# Acid bass: polyBLEP saw into a resonant state-variable low-pass
# --------------------------------------------------------------------------

def polyblep_saw(freq):
    """Band-limited sawtooth following a per-sample frequency array (Hz)."""
    dt = freq / SR
    phase = np.cumsum(dt) % 1.0
    saw = 2 * phase - 1
    start = phase < dt
    x = phase[start] / dt[start]
    saw[start] -= 2 * x - x * x - 1
    end = phase > 1 - dt
    x = (phase[end] - 1) / dt[end]
    saw[end] -= x * x + 2 * x + 1
    return saw


def resonant_lowpass(x, cutoff, q):
    """Topology-preserving-transform SVF low-pass with per-sample cutoff (Hz)."""
    g = np.tan(np.pi * np.minimum(cutoff, 0.45 * SR) / SR)
    a1 = 1 / (1 + g * (g + 1 / q))
    a2 = g * a1
    a3 = g * a2
    ic1 = ic2 = 0.0
    y = np.empty(len(x))
    for n, (v0, b1, b2, b3) in enumerate(zip(x.tolist(), a1.tolist(), a2.tolist(), a3.tolist())):
        v3 = v0 - ic2
        v1 = b1 * ic1 + b2 * v3
        v2 = ic2 + b2 * ic1 + b3 * v3
        ic1 = 2 * v1 - ic1
        ic2 = 2 * v2 - ic2
        y[n] = v2
    return y


# One bar of 16ths: (semitones above A1 or None for a rest, accent, slide into next step)
ACID_PATTERN = [
    (0, 1, 0), (0, 0, 0), (12, 0, 1), (10, 0, 0), (None, 0, 0), (0, 1, 0), (3, 0, 0), (15, 0, 1),
    (12, 1, 0), (0, 0, 0), (7, 0, 0), (None, 0, 0), (0, 1, 0), (10, 0, 1), (12, 0, 0), (0, 0, 0),
]


def acid_bass(duration, bpm, root=55.0):
    """Mono 303-style line looping ACID_PATTERN: accents, slides and a slow cutoff sweep."""
    step = 60 / bpm / 4
    n_total = int(round(duration * SR))
    freq = np.full(n_total, root)
    amp = np.zeros(n_total)
    env_mod = np.zeros(n_total)
    prev_freq, sliding_in = root, False
    for s in range(int(duration / step) + 1):
        semis, accent, slide = ACID_PATTERN[s % len(ACID_PATTERN)]
        i0, i1 = int(round(s * step * SR)), min(int(round((s + 1) * step * SR)), n_total)
        if semis is None or i0 >= n_total:
            sliding_in = False
            continue
        t = np.arange(i1 - i0) / SR
        target = root * 2 ** (semis / 12)
        if sliding_in:  # legato: glide pitch, keep the envelopes running
            freq[i0:i1] = target * (prev_freq / target) ** np.exp(-t / 0.03)
            amp[i0:i1] = amp[i0 - 1]
            env_mod[i0:i1] = env_mod[i0 - 1] * np.exp(-(t + 1 / SR) / 0.15)
        else:
            freq[i0:i1] = target
            amp[i0:i1] = (1.0 + 0.4 * accent) * np.minimum(t / 0.002, 1.0)
            env_mod[i0:i1] = (2.0 + 4.0 * accent) * np.exp(-t / (0.09 + 0.06 * accent))
        if not slide:  # gate closes after 60 % of the step
            gate_len = 0.6 * step
            amp[i0:i1] *= np.where(t < gate_len, 1.0, np.exp(-(t - gate_len) / 0.005))
        prev_freq, sliding_in = target, bool(slide)
    t = np.arange(n_total) / SR
    base_cutoff = 250 + 550 * (1 - np.cos(2 * np.pi * t / duration))  # slow filter sweep
    filtered = resonant_lowpass(polyblep_saw(freq), base_cutoff * (1 + env_mod), q=5.0)
    return butter(np.tanh(0.5 * filtered * amp), "highpass", 30)  # soft drive, DC blocker


# --------------------------------------------------------------------------
# Thai pentatonic: ranat-ek-like bars and ching cymbals
# --------------------------------------------------------------------------

THAI_TONIC = 294.0  # Hz; the Thai tuning divides the octave into ~7 equal steps
THAI_PENTATONIC = (0, 1, 2, 4, 5)  # 7-TET degrees of a pentatonic subset
# Phrases of (pentatonic scale index, duration in eighth notes); None is a rest.
# Notes of two or more eighths are played as a kro (tremolo), as on the ranat ek.
THAI_MELODY = [
    (2, 1), (3, 1), (4, 1), (5, 1), (4, 1), (3, 1), (2, 1), (3, 1), (4, 2), (None, 2),
    (5, 1), (6, 1), (7, 1), (6, 1), (5, 1), (4, 1), (5, 1), (3, 1), (2, 2), (None, 2),
    (0, 1), (1, 1), (2, 1), (4, 1), (3, 1), (2, 1), (1, 1), (2, 1),
    (4, 1), (3, 1), (2, 1), (1, 1), (0, 4),
]


def thai_freq(index):
    octave, degree = divmod(index, len(THAI_PENTATONIC))
    return THAI_TONIC * 2 ** (octave + THAI_PENTATONIC[degree] / 7)


def ranat_strike(rng, freq):
    """Struck hardwood bar: inharmonic partials, higher ones decaying faster."""
    t = time_axis(1.2)
    partials = ((1.0, 1.0, 0.45), (2.76, 0.12, 0.18), (3.93, 0.35, 0.12), (9.2, 0.1, 0.04))
    bar = sum(a * np.sin(2 * np.pi * r * freq * t) * np.exp(-t / d)
              for r, a, d in partials if r * freq < 0.45 * SR)
    mallet = butter(rng.standard_normal(len(t)), "bandpass", (1500, 5000)) * np.exp(-t / 0.003)
    return (bar + 0.25 * mallet) * np.minimum(t / 0.001, 1.0)


def ching(rng, open_stroke):
    """Small cup cymbals: open 'ching' rings, closed 'chap' is damped at once."""
    decay = 0.9 if open_stroke else 0.05
    t = time_axis(decay * 3)
    partials = ((2630, 1.0), (3950, 0.7), (5370, 0.5), (6820, 0.35), (8550, 0.25))
    # Two slightly detuned cups give the characteristic beating.
    tone = sum(a * (np.sin(2 * np.pi * f * t) + np.sin(2 * np.pi * f * 1.006 * t))
               for f, a in partials)
    noise = butter(rng.standard_normal(len(t)), "highpass", 4000) * np.exp(-t / 0.01)
    return (0.3 * tone * np.exp(-t / decay) + noise) * np.minimum(t / 0.0005, 1.0)


def thai_pentatonic(rng, bpm=120, duration=10.5):
    """Ranat melody (with lower octave) on the left, ching on the right, in a small room."""
    eighth = 60 / bpm / 2
    buf = new_buffer(duration, 2)
    t = 0.0
    for index, length in THAI_MELODY:
        if index is not None:
            strikes = 1 if length == 1 else 3 * length  # kro: three strikes per eighth
            for k in range(strikes):
                vel = 1.0 if k == 0 else 0.55 + 0.15 * (k % 2)
                onset = t + k * eighth * length / strikes
                place(buf, ranat_strike(rng, thai_freq(index)), onset, 0.5 * vel, pan=-0.2)
                place(buf, ranat_strike(rng, thai_freq(index) / 2), onset, 0.3 * vel, pan=-0.35)
        t += length * eighth
    for beat in range(int(duration / (2 * eighth))):
        place(buf, ching(rng, open_stroke=beat % 2 == 1), beat * 2 * eighth, 0.15, pan=0.4)
    return reverb(buf, rng, decay=0.8, mix=0.15)


# --------------------------------------------------------------------------
# Bach: Prelude in C major BWV 846, additive piano
# --------------------------------------------------------------------------

# Each bar: five pitches played twice per bar as n1 n2 n3 n4 n5 n3 n4 n5 (16ths).
BWV846_BARS = [
    ("C4", "E4", "G4", "C5", "E5"),
    ("C4", "D4", "A4", "D5", "F5"),
    ("B3", "D4", "G4", "D5", "F5"),
    ("C4", "E4", "G4", "C5", "E5"),
    ("C4", "E4", "A4", "E5", "A5"),
]
NOTE_OFFSETS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note_freq(name):
    """Equal-tempered frequency of a note name such as 'F#4' (A4 = 440 Hz)."""
    semis = NOTE_OFFSETS[name[0]] + name.count("#") - name.count("b")
    midi = 12 * (int(name[-1]) + 1) + semis
    return 440.0 * 2 ** ((midi - 69) / 12)


def piano_note(freq, duration, velocity, inharmonicity=3e-4, release=0.12):
    """Stiff-string additive tone: stretched partials, faster decay for higher ones."""
    t = time_axis(duration + 5 * release)
    k = np.arange(1, 41)
    partial_freqs = k * freq * np.sqrt(1 + inharmonicity * k ** 2)
    keep = partial_freqs < 16000
    k, partial_freqs = k[keep], partial_freqs[keep]
    amps = k ** -1.3 * np.exp(-(k - 1) * (0.35 - 0.15 * velocity))
    taus = 2.5 * np.sqrt(262 / freq) / (1 + 0.35 * (k - 1))
    tone = np.sum(amps[:, None] * np.exp(-t[None, :] / taus[:, None])
                  * np.sin(2 * np.pi * partial_freqs[:, None] * t[None, :]), axis=0)
    damper = np.where(t < duration, 1.0, np.exp(-(t - duration) / release))
    return velocity * tone * damper * np.minimum(t / 0.003, 1.0)


def bach_prelude(bpm=96, tail=0.8):
    """Mono rendering of BWV846_BARS, ringing ``tail`` seconds after the last half bar."""
    sixteenth = 60 / bpm / 4
    half_bar = 8 * sixteenth
    n_halves = 2 * len(BWV846_BARS)
    duration = n_halves * half_bar + tail
    buf = new_buffer(duration, 1)
    for h in range(n_halves):
        notes = BWV846_BARS[h // 2]
        start = h * half_bar
        note_end = start + half_bar + (tail if h == n_halves - 1 else 0.0)
        for pos, idx in enumerate((0, 1, 2, 3, 4, 2, 3, 4)):
            onset = start + pos * sixteenth
            velocity = 0.9 if pos == 0 else (0.8 if pos % 2 == 0 else 0.7)
            # Notes ring until the end of the half bar, as with the pedal down.
            place(buf, piano_note(note_freq(notes[idx]), note_end - onset, velocity), onset)
    return buf


# --------------------------------------------------------------------------

def main():
    house = new_buffer(8.0, 2)
    drum_pattern(house, np.random.default_rng(122), bpm=122, open_hat_decay=0.12)
    write_clip("house_beat.wav", house)

    techno = new_buffer(10.0, 2)
    drum_pattern(techno, np.random.default_rng(130), bpm=130, open_hat_decay=0.06)
    bass = acid_bass(10.0, bpm=130)
    techno += 0.6 * np.vstack([bass, bass])
    write_clip("techno_bassline.wav", techno)

    write_clip("thai_pentatonic.wav", thai_pentatonic(np.random.default_rng(7)))
    write_clip("bach_additive.wav", reverb(bach_prelude(), np.random.default_rng(846), 1.2, 0.1))


if __name__ == "__main__":
    main()
