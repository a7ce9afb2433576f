"""The table of edge operations: one entry per code of the original's connection matrix."""

import pytest
from torch import nn

from snasnet.core.errors import ConfigError
from snasnet.network.arch import OP_NAMES, SPIKING_OPS
from snasnet.network.neuron import LIFConfig, is_lif
from snasnet.network.ops import OPERATIONS, build_op, operation


def test_the_table_lists_each_code_once_with_its_name_and_spiking_flag():
    rows = [(op.code, op.name, op.spiking) for op in map(OPERATIONS.get, OPERATIONS.names())]
    assert rows == [
        (0, "zero", False),
        (1, "skip", False),
        (2, "conv1x1", True),
        (3, "conv3x3", True),
        (4, "avgpool", False),
    ]
    # the architecture module's views are the same table
    assert OP_NAMES == {0: "zero", 1: "skip", 2: "conv1x1", 3: "conv3x3", 4: "avgpool"}
    assert SPIKING_OPS == (2, 3)


@pytest.mark.parametrize("code", range(5))
def test_build_op_builds_the_tables_module_with_the_originals_layout(code):
    module = build_op(code, 8, LIFConfig())
    if operation(code).spiking:
        # LIF -> conv -> BN, keys "0", "1.weight", "2.*" as in the original's checkpoints
        assert is_lif(module[0]) and isinstance(module[1], nn.Conv2d) and isinstance(module[2], nn.BatchNorm2d)
        assert module[1].kernel_size == ((1, 1) if code == 2 else (3, 3))
    else:
        assert not list(module.parameters())


def test_an_unknown_code_is_one_line_naming_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        build_op(7, 8, LIFConfig())
    assert str(err.value) == ("unknown operation code 7: choose one of 0 zero, 1 skip, 2 conv1x1, 3 conv3x3, 4 avgpool")
