"""msft learn-dft --backend torch: torch.nn.Linear and torch.optim.Adam reach numpy's weights."""

import numpy as np
import pytest
from click.testing import CliRunner

from msft_cli import ParameterError
from msft_cli import learn_dft as numpy_backend
from msft_cli.cli import main
from msft_cli.torch.learn_dft import learn_dft


@pytest.mark.parametrize("precision, tol", [("float64", 1e-9), ("mixed", 1e-7)])
def test_same_weights_as_numpy_on_a_32_point_dft(precision, tol):
    """Same data, same shuffling, same Adam steps: the same weights (float64 to 1e-9; mixed
    precision's float32 epochs round differently, both 2e-8 from the DFT matrix)."""
    kw = dict(size=32, epochs=5, examples=3000, precision=precision)
    ours = learn_dft("dft", device="cpu", **kw)
    theirs = numpy_backend.learn_dft("dft", **kw)
    assert np.abs(ours.weights - theirs.weights).max() < tol
    assert ours.evaluation["weights_max_rel_diff"] < 1e-6
    np.testing.assert_allclose(ours.history["val_loss"][:2], theirs.history["val_loss"][:2],
                               rtol=1e-3)
    assert ours.settings["backend"] == "torch" and ours.settings["device"] == "cpu"


def test_sgd_and_fixed_lr():
    r = learn_dft("dft", size=16, epochs=3, examples=2000, solver="sgd", device="cpu")
    assert r.evaluation["weights_max_rel_diff"] < 1e-3
    r = learn_dft("dft", size=16, epochs=2, examples=1000, lr=1e-3, device="cpu")
    assert r.settings["lr_schedule"] == "constant"


def test_errors():
    with pytest.raises(ParameterError, match="solver='lstsq' is not a torch solver"):
        learn_dft("dft", size=16, solver="lstsq")
    with pytest.raises(ParameterError, match="epochs=0"):
        learn_dft("dft", size=16, epochs=0)


def test_cli_backend_torch_writes_the_same_model_file(tmp_path):
    out = tmp_path / "d.h5"
    result = CliRunner().invoke(main, ["learn-dft", "--target", "dft", "--size", "16",
                                       "--epochs", "2", "--examples", "500", "--backend",
                                       "torch", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = numpy_backend.load(out)
    assert model.settings["backend"] == "torch" and model.weights.shape == (16, 32)
    result = CliRunner().invoke(main, ["learn-dft", "--target", "dft", "--size", "16",
                                       "--solver", "lstsq", "--backend", "torch", "-q",
                                       "-o", str(out)])
    assert result.exit_code == 1
    assert "Error: solver='lstsq' is not a torch solver" in result.output
