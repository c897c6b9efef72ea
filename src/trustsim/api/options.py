"""How a run is carried out (not what it simulates): :class:`RunOptions`, kept in the manifest for resume."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trustsim.errors import Problem, ScenarioError, Setting, literal
from trustsim.preflight import Backend
from trustsim.trace import DEFAULT_PANEL


class RunOptions(BaseModel):
    """How a run is carried out (not what it simulates); kept in the manifest for ``resume``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    checkpoint_every: int | None = Field(default=None, ge=1, description="days between checkpoints")
    keep_checkpoints: int = Field(default=1, ge=1, description="latest checkpoints kept")
    check: bool = Field(default=False, description="invariant checks every day")
    backend: Backend = Field(default="cpu", description="where the kernels run")
    agents_out: str = Field(
        default="all", description="agents.parquet: 'all' agents, or 'sample=N' (N agents evenly spaced by id)"
    )

    @field_validator("agents_out")
    @classmethod
    def _agents_out_form(cls, value: str) -> str:
        if not re.fullmatch(r"all|sample=[1-9][0-9]*", value):
            raise ValueError("use 'all' or 'sample=N' with N a whole number of at least 1")
        return value

    def table_agents(self, n_agents: int) -> int:
        """At most how many agents ``agents.parquet`` holds (a sample adds the traced agents)."""
        ids = self.agent_ids(n_agents)
        return n_agents if ids is None else min(n_agents, ids.size + DEFAULT_PANEL)

    def agent_ids(self, n_agents: int) -> np.ndarray | None:
        """The agents written to ``agents.parquet``: ``None`` for all of them."""
        if self.agents_out == "all":
            return None
        wanted = int(self.agents_out.removeprefix("sample="))
        if wanted >= n_agents:
            return None
        return np.unique(np.linspace(0, n_agents - 1, wanted).round().astype(np.int64))

    @classmethod
    def parse(cls, values: Any, where: str | None = None) -> RunOptions:
        """Validated options; one problem per line, naming the option (as a setting), or ``where`` it was read."""
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            problems: list[str | Problem] = []
            for error in err.errors():
                key = ".".join(str(part) for part in error["loc"])
                message = error["msg"].replace("instance of RunOptions", "table of run options")
                message = message.removeprefix("Value error, ")
                detail = f"{message[0].lower() + message[1:]} (got {error.get('input')!r})"
                if where is not None:
                    problems.append(f"{where}: {f'options.{key}' if key else 'options'}: {detail}")
                else:
                    problems.append(Problem("{0}: " + literal(detail), (Setting(key),)))
            raise ScenarioError(problems) from None
