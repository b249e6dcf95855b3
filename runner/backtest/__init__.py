"""``yuqing backtest``: replay past items through the real pipeline on a simulated clock (docs/backtest.md).

Part of the composition root: ``replay`` wires every layer, lazily inside functions."""
