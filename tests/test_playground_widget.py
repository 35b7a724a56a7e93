"""The Playground widget, driven the way a person drives it: set a control's ``.value`` or
click a button, then check the state underneath and the drawn image bytes.

Bad input must end up as a message in the status line, never as an exception: every
control change below would raise out of the ``.value =`` line if a handler let one through.
"""
from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from labkit.playground import Playground, to_string  # noqa: E402


@pytest.fixture
def pg():
    w = Playground("seed=0.25")
    yield w
    w.close()


def drawn(w):
    return w.heatmap.value, w.network.value, w.curve.value


def test_it_draws_pngs_and_svg_on_start(pg):
    assert pg.heatmap.value[:8] == b"\x89PNG\r\n\x1a\n" and len(pg.heatmap.value) > 2000
    assert pg.network.value.startswith("<svg") and pg.network.value.count("<path") == 2 * 4 + 4 * 2 + 2
    assert pg.message == "" and pg.state_text.value == "seed=0.25"
    assert "Training loss" in pg.loss_label.value


def test_step_reset_and_epoch_counter(pg):
    before = drawn(pg)
    loss0 = pg.exp.history[-1][0]
    for _ in range(3):
        pg.step_button.click()
    assert pg.exp.epoch == 3 and "000,003" in pg.epoch_label.value
    assert pg.exp.history[-1][0] < loss0
    after = drawn(pg)
    assert all(a != b for a, b in zip(before, after))     # heatmap, network and curve redrawn
    pg.reset_button.click()
    assert pg.exp.epoch == 0 and "000,000" in pg.epoch_label.value


def test_learning_rate_changes_the_state_but_not_the_network(pg):
    pg.step()
    w = pg.exp.net.weights[0].copy()
    pg.controls["learning_rate"].value = 0.3
    assert pg.exp.state.learning_rate == 0.3 and pg.exp.epoch == 1
    assert np.array_equal(pg.exp.net.weights[0], w)
    assert "learningRate=0.3" in pg.state_text.value


@pytest.mark.parametrize("name, value", [
    ("activation", "relu"), ("regularization", "L2"), ("regularization_rate", 0.01),
    ("batch_size", 5), ("noise", 25), ("percent_train", 70), ("dataset", "spiral"),
    ("problem", "regression"),
])
def test_every_control_sets_its_field_and_redraws(pg, name, value):
    pg.step()
    before = pg.heatmap.value
    pg.controls[name].value = value
    assert getattr(pg.exp.state, name) == value
    assert pg.exp.epoch == 0                              # these make a new network, as the page does
    assert pg.heatmap.value != before
    assert pg.message == ""


def test_problem_type_swaps_the_dataset_buttons(pg):
    assert pg.controls["reg_dataset"].layout.display == "none"
    pg.controls["problem"].value = "regression"
    assert pg.controls["dataset"].layout.display == "none" and pg.controls["reg_dataset"].layout.display is None
    pg.controls["reg_dataset"].value = "reg-gauss"
    assert pg.exp.state.data_name == "reg-gauss" and len(pg.exp.y_train) == 600


def test_dataset_change_and_regenerate_draw_new_seeds(pg):
    seed = pg.exp.state.seed
    pg.controls["dataset"].value = "xor"
    assert pg.exp.state.seed != seed
    seed, before = pg.exp.state.seed, pg.heatmap.value
    pg.regenerate_button.click()
    assert pg.exp.state.seed != seed and pg.heatmap.value != before
    assert f"seed={pg.exp.state.seed}" in pg.state_text.value


def test_show_test_data_and_discretize_redraw_only(pg):
    pg.step()
    before = pg.heatmap.value
    pg.controls["show_test_data"].value = True
    with_test = pg.heatmap.value
    assert with_test != before and pg.exp.epoch == 1
    pg.controls["discretize"].value = True
    assert pg.heatmap.value != with_test and pg.exp.epoch == 1
    assert "discretize=true" in pg.state_text.value and "showTestData=true" in pg.state_text.value


def test_feature_toggles(pg):
    pg.feature_toggles["xSquared"].value = True
    pg.feature_toggles["x"].value = False
    assert pg.exp.state.features == ("y", "xSquared")
    assert pg.exp.net.shape[0] == 2


def test_layer_and_neuron_buttons(pg):
    pg.add_layer.click()
    assert pg.exp.state.hidden == (4, 2, 2)
    pg.neuron_buttons[2][0].children[0].children[0].click()        # + on layer 3
    assert pg.exp.state.hidden == (4, 2, 3) and "3 neurons" in pg.neuron_buttons[2][1].value
    for _ in range(10):
        pg._neurons(0, +1)
    assert pg.exp.state.hidden[0] == 8                             # capped at 8
    for _ in range(8):
        pg.remove_layer.click()
    assert pg.exp.state.hidden == () and pg.exp.net.shape == [2, 1]
    for _ in range(8):
        pg.add_layer.click()
    assert pg.exp.state.hidden == (2,) * 6                          # capped at 6
    assert pg.neuron_buttons[5][0].layout.display is None


def test_read_and_set_a_single_weight(pg):
    label, key = pg.exp.links()[1]
    pg.link_choice.value = key
    assert pg.weight_value.value == pytest.approx(pg.exp.weight(*key), abs=1e-6)
    before = pg.network.value
    pg.weight_value.value = 4.5
    assert pg.exp.weight(*key) == 4.5
    assert pg.network.value != before and "weight 4.500" in pg.network.value


def test_big_heatmap_can_show_a_hidden_neuron(pg):
    before = pg.heatmap.value
    pg.big_node.value = "h1.1"
    assert pg.heatmap.value != before


def test_state_string_round_trips_through_the_text_box(pg):
    pg.state_text.value = "dataset=gauss&activation=relu&networkShape=3,3&seed=abc&sinX=true"
    s = pg.exp.state
    assert (s.dataset, s.activation, s.hidden, s.seed) == ("gauss", "relu", (3, 3), "abc")
    assert "sinX" in s.features and pg.feature_toggles["sinX"].value
    assert pg.controls["activation"].value == "relu"
    assert Playground(pg.state_text.value).exp.state == s


@pytest.mark.parametrize("text, says", [
    ("dataset=moon", "unknown dataset 'moon'"),
    ("noise=5&&learningRate", "'learningRate' is not of the form key=value"),
    ("x=false&y=false", "every input feature is switched off"),
    ("networkShape=9", "from 1 to 8"),
])
def test_bad_state_strings_give_a_message_and_change_nothing(pg, text, says):
    state, before = pg.exp.state, pg.heatmap.value
    pg.state_text.value = text
    assert says in pg.message and says.split("'")[0] in pg.status.value
    assert pg.exp.state == state and pg.heatmap.value == before
    assert pg.state_text.value == to_string(state)                 # the box shows the state in use
    pg.controls["learning_rate"].value = 0.1                        # a good change clears it
    assert pg.message == "" and pg.status.value == ""


def test_switching_every_feature_off_is_refused_with_a_message(pg):
    for t in pg.feature_toggles.values():
        t.value = False
    assert "every input feature is switched off" in pg.message
    assert pg.exp.state.features == ("y",)
    assert [k for k, t in pg.feature_toggles.items() if t.value] == ["y"]


def test_a_bad_string_at_start_shows_the_defaults_and_says_why():
    w = Playground("dataset=moon&noise=10")
    assert "could not use that state" in w.message and "unknown dataset 'moon'" in w.message
    assert w.exp.state.dataset == "circle"
    w.close()


def test_engine_switch(pg):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    pg.step()
    w = pg.exp.net.weights[0].copy()
    pg.controls["engine"].value = "torch"
    assert pg.exp.engine.name == "torch" and pg.exp.epoch == 1    # same network, other toolkit
    assert np.array_equal(pg.exp.net.weights[0], w)
    pg.step()
    assert pg.exp.epoch == 2 and not np.array_equal(pg.exp.net.weights[0], w)
    assert "engine=torch" in pg.state_text.value


def test_play_trains_in_the_background_and_pause_stops_it(pg):
    loss0 = pg.exp.history[-1][0]
    pg.play_button.value = True
    assert pg.play_button.description == "Pause"
    deadline = time.monotonic() + 30
    while pg.exp.epoch < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    pg.pause()
    epoch = pg.exp.epoch
    assert epoch >= 5 and pg.play_button.description == "Play"
    time.sleep(0.2)
    assert pg.exp.epoch == epoch                                    # really stopped
    assert pg.exp.history[-1][0] < loss0
    assert f"{epoch:07,d}" in pg.epoch_label.value


def test_a_change_that_makes_a_new_network_pauses_play(pg):
    pg.play_button.value = True
    pg.controls["activation"].value = "sigmoid"
    assert pg.play_button.value is False
    pg.pause()
    assert pg.exp.state.activation == "sigmoid"
