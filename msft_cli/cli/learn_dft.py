"""``msft learn-dft``: one linear layer learns the DFT, an STFT or msft."""

import click

from msft_cli import learn_dft
from msft_cli.cli.common import defaults, fail_cleanly
from msft_cli.cli.progress import Bar

_LEARN = defaults(learn_dft.learn_dft)


@click.command("learn-dft")
@click.option("--target", type=click.Choice(learn_dft.TARGETS), default=_LEARN["target"],
              show_default=True, help="Transform to learn.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Model file to write (HDF5) [default: TARGET.model.h5].")
@click.option("--size", type=int, default=_LEARN["size"], show_default=True,
              help="dft: points (the input length).")
@click.option("--n-fft", type=int, default=_LEARN["n_fft"], show_default=True,
              help="stft: FFT length.")
@click.option("--win-length", type=int, default=_LEARN["win_length"],
              help="stft: window length [default: --n-fft].")
@click.option("--hop-length", type=int, default=_LEARN["hop_length"], show_default=True,
              help="stft: samples between frames (56 gives the published 33 frames).")
@click.option("--window", type=click.Choice(learn_dft.STFT_WINDOWS), default=_LEARN["window"],
              show_default=True, help="stft: periodic window.")
@click.option("--input-length", type=int, default=_LEARN["input_length"],
              help="Samples per signal [default: 2048 for stft, 256 for msft].")
@click.option("--sr", type=int, default=_LEARN["sr"], show_default=True,
              help="Sample rate in Hz (test tones, figure axes; msft's rate).")
@click.option("--fmin", type=float, default=_LEARN["fmin"], show_default=True,
              help="msft: centre of the lowest band in Hz.")
@click.option("--n-octaves", type=int, default=_LEARN["n_octaves"], show_default=True,
              help="msft: octaves.")
@click.option("--bins-per-octave", type=int, default=_LEARN["bins_per_octave"],
              show_default=True, help="msft: bands per octave.")
@click.option("--solver", type=click.Choice(learn_dft.SOLVERS), default=_LEARN["solver"],
              show_default=True, help="Minibatch SGD, Adam, or the closed form.")
@click.option("--epochs", type=int, default=_LEARN["epochs"], show_default=True,
              help="Passes over the training set.")
@click.option("--batch-size", type=int, default=_LEARN["batch_size"],
              help="Examples per step [default: input length / 8, at least 256].")
@click.option("--lr", type=float, default=_LEARN["lr"],
              help="Step size [default: sgd: the best step for white noise; adam: that "
                   "step times the gradient's RMS]. A given --lr is fixed (Keras's, for adam).")
@click.option("--beta1", type=float, default=_LEARN["beta1"], show_default=True,
              help="adam: first moment decay.")
@click.option("--beta2", type=float, default=_LEARN["beta2"], show_default=True,
              help="adam: second moment decay.")
@click.option("--eps", type=float, default=_LEARN["eps"], show_default=True,
              help="adam: epsilon.")
@click.option("--examples", type=int, default=_LEARN["examples"], show_default=True,
              help="Training signals (white noise, uniform in [-1, 1)).")
@click.option("--precision", type=click.Choice(learn_dft.PRECISIONS),
              default=_LEARN["precision"], show_default=True,
              help="Gradient steps in float32 then float64 (mixed), or one type throughout.")
@click.option("--seed", type=int, default=_LEARN["seed"], show_default=True,
              help="Seed of the data, the shuffling and the test signals.")
@click.option("--tol", type=float, default=_LEARN["tol"], show_default=True,
              help="Stop once the validation MSE is at most this (0: run every epoch).")
@click.option("--backend", type=click.Choice(["numpy", "torch"]), default="numpy",
              show_default=True, help="numpy, or torch.nn.Linear with torch.optim (adam, sgd; "
                                      "CUDA if available; needs the torch extra).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@fail_cleanly
def learn_dft_command(output, quiet, backend, **params):
    """Train one dense layer (no bias, no activation) to do a DFT, an STFT or msft.

    The training signals are white noise and the targets their transform (real
    and imaginary parts stacked, unscaled); the learned weights are compared
    with the analytic matrix, and the layer is tested on four tones and fresh
    noise. The model, its settings, the loss per epoch and the test outputs go
    to an HDF5 model file, which msft render MODEL.h5 draws. The defaults are
    the published STFT: Hann 256, n_fft 256, 2048 samples, 33 frames x 129
    bins, 15,000 examples.

    \b
    Example:
      msft learn-dft --target dft --size 128 -o dft128.h5
      msft learn-dft -o stft.h5
      msft learn-dft --solver lstsq -o stft_lstsq.h5
      msft learn-dft --target dft --size 32 --backend torch -o dft32.h5
    """
    output = output or f"{params['target']}.model.h5"
    bar = Bar(f"learn-dft {params['target']} ({params['solver']})", quiet,
              item_show_func=lambda r: f"val MSE {r['val_loss']:.2e}" if r else None)

    def progress(epoch, epochs, record):  # the bar starts once the parameters are checked
        bar.update(epoch, epochs, record)

    try:
        if backend == "torch":  # torch is imported only here
            from msft_cli.torch.learn_dft import learn_dft as train
        else:
            train = learn_dft.learn_dft
        result = train(progress=progress, **params)
        result.save(output)
    finally:
        bar.close()
    if not quiet:
        click.echo(result.summary())
        click.echo(f"-> {output}")
