"""A Confluence Cloud emulator: the test bed, the demo's data and the benchmarks' target.

    from llama_index_readers_confluence_v2.emulator import Emulator
    emulator = Emulator(pages=200)
    with emulator.serve():
        print(emulator.base_url)

Needs the `emulator` extra (starlette, uvicorn).
"""

from .api import Origins
from .app import EmulatorApp
from .faults import FaultRule, Faults, LoggedRequest
from .generator import generate_site, populate_space
from .model import Account, Attachment, Content, Site, Space
from .oauth import OAuthApp, OAuthServer
from .quota import PointsQuota
from .server import Emulator

__all__ = [
    "Account",
    "Attachment",
    "Content",
    "Emulator",
    "EmulatorApp",
    "FaultRule",
    "Faults",
    "LoggedRequest",
    "OAuthApp",
    "OAuthServer",
    "Origins",
    "PointsQuota",
    "Site",
    "Space",
    "generate_site",
    "populate_space",
]
