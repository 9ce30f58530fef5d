"""Keep a local collection in sync: the second run fetches and writes only what changed.

Runs offline against the bundled emulator, where we edit, delete (to the trash) and add pages
between runs.
"""

import tempfile
from pathlib import Path

from llama_index_readers_confluence_v2 import ConfluenceReader
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sync import sync

emulator = Emulator(pages=200)
account = emulator.user()
path = Path(tempfile.mkdtemp()) / "wiki.sqlite"
with emulator.serve(), LocalCollection(path) as collection:
    reader = ConfluenceReader(
        emulator.base_url,
        user_name=account.email,
        api_token=account.api_token,
        api_gateway_url=emulator.gateway_url,
    )
    print("first run: ", sync(reader, collection, space_key="ENG").summary())

    site = emulator.site
    space = site.space_of("ENG")
    pages = [str(i) for i in site.space_pages[space.id]]
    site.edit_page(pages[3], body="<p>Rewritten: the on-call rota moved to Tuesdays.</p>")
    site.trash_content(pages[9])
    site.add_content(space, "New escalation policy", space.homepage_id)

    print("second run:", sync(reader, collection, space_key="ENG").summary())
    for hit in collection.search("on-call rota"):
        print(f"found: {hit.title} - {hit.snippet}")
