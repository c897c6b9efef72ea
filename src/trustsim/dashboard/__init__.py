"""The live dashboard: a local Solara web app that runs a scenario day by day (``trustsim dashboard``).

:mod:`~trustsim.dashboard.levers` maps the sliders onto scenario keys,
:mod:`~trustsim.dashboard.live` steps a simulation in a background thread,
:mod:`~trustsim.dashboard.ego` draws an agent's ego network,
:mod:`~trustsim.dashboard.who` the "who bears it" panel (outcomes by group) and
:mod:`~trustsim.dashboard.app` is the page. Only :mod:`~trustsim.dashboard.app` imports
Solara. The core never imports this package.
"""
