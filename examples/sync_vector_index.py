"""Keep your own LlamaIndex vector index in sync with Confluence: a changed page is embedded
again, a deleted one leaves the index, the rest is not touched (nor embedded again).

Runs offline against the bundled emulator with a words-only embedding (HashingEmbedding);
put your own embedding model there, and `vector_store=` your Qdrant, Chroma, pgvector, ...
"""

import tempfile
from pathlib import Path

from llama_index_readers_confluence_v2 import ConfluenceReader
from llama_index_readers_confluence_v2.embedding import HashingEmbedding
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.sinks import IndexTarget
from llama_index_readers_confluence_v2.sync import sync

emulator = Emulator(pages=200)
account = emulator.user()
folder = Path(tempfile.mkdtemp()) / "wiki-index"
with emulator.serve():
    reader = ConfluenceReader(
        emulator.base_url,
        user_name=account.email,
        api_token=account.api_token,
        api_gateway_url=emulator.gateway_url,
    )
    target = IndexTarget.open(folder, embed_model=HashingEmbedding())
    report = sync(reader, target, space_key="ENG")
    print(f"first run: {report.summary()}; {target.embedded} chunks embedded")

    site = emulator.site
    space = site.space_of("ENG")
    pages = [str(i) for i in site.space_pages[space.id]]
    site.edit_page(pages[3], body="<p>Rewritten: the on-call rota moved to Tuesdays.</p>")
    site.trash_content(pages[9])

    target = IndexTarget.open(folder, embed_model=HashingEmbedding())  # as the next day's job
    report = sync(reader, target, space_key="ENG")
    print(f"second run: {report.summary()}; {target.embedded} chunks embedded")
    best = target.index.as_retriever(similarity_top_k=1).retrieve("on-call rota")[0]
    print(f"nearest to 'on-call rota': {best.node.metadata['title']}")
