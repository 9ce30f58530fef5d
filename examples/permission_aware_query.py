"""Answer each user only from what they may read in Confluence.

The import records every page's audience (include_permissions=True); the query engine then
filters by the asking user (their account id and groups) and drops anything the exact rule
refuses. Runs offline against the bundled emulator, where one page is restricted to a group.
"""

from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

from llama_index_readers_confluence_v2 import (
    AudiencePostprocessor,
    ConfluenceReader,
    audience_filters,
)
from llama_index_readers_confluence_v2.emulator import Emulator

Settings.embed_model = MockEmbedding(embed_dim=64)  # stand-ins for real models
Settings.llm = MockLLM()

emulator = Emulator(pages=120)
site = emulator.site
alice, bob = emulator.user(), emulator.user("bob@example.com")
leads = site.add_group("release-leads", alice.account_id)
ops = site.space_of("OPS")
secret = next(p for p in site.contents.values() if p.parent_id == ops.homepage_id)
site.restrict(secret.id, groups=[leads])  # readable by release-leads only, and below it too

with emulator.serve():
    reader = ConfluenceReader(
        emulator.base_url,
        user_name=alice.email,
        api_token=alice.api_token,
        api_gateway_url=emulator.gateway_url,
    )
    documents = reader.load_data(space_key="OPS", include_permissions=True)
    viewers = {name: reader.viewer(a.account_id) for name, a in (("alice", alice), ("bob", bob))}

index = VectorStoreIndex.from_documents(documents)
for name, viewer in viewers.items():
    engine = index.as_query_engine(
        similarity_top_k=len(documents),
        response_mode="no_text",  # sources only: the mock LLM writes no answer
        filters=audience_filters(viewer),  # what the vector store can filter on
        node_postprocessors=[AudiencePostprocessor(viewer=viewer)],  # the exact rule
    )
    sources = engine.query("What is the release plan?").source_nodes
    restricted = sum(bool(node.metadata["restricted"]) for node in sources)
    print(f"{name}: answered from {len(sources)} pages, {restricted} of them restricted")
