"""Every wire type of the engine protocol, in one package (docs/protocol.md is its prose).

Pure Python (standard library only): the engine validates each request into one of these
types before any work, the client builds requests and reads replies through them, and both
plug-ins use them through the client. Each type has `to_map()` and `from_map()`; parsing is
strict and raises ProtocolError with words a plug-in can show to a person.

The package splits into `core` (constants, Enums, limits, field checks), `values`,
`requests` and `replies`; everything is imported from here.
"""

# Re-exported (`X as X`): everything is imported from `chromahint_client.protocol`.
from .core import BYTES_PER_PIXEL as BYTES_PER_PIXEL
from .core import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
from .core import DEFAULT_RANKED as DEFAULT_RANKED
from .core import ENDPOINT_ENV as ENDPOINT_ENV
from .core import ENVELOPE as ENVELOPE
from .core import MAX_CANDIDATES as MAX_CANDIDATES
from .core import MAX_RANKED as MAX_RANKED
from .core import MAX_REGION_ID as MAX_REGION_ID
from .core import MAX_SUGGESTIONS as MAX_SUGGESTIONS
from .core import MAX_SWATCHES as MAX_SWATCHES
from .core import REFERENCE_FIT_FULL as REFERENCE_FIT_FULL
from .core import REFERENCE_FIT_LOW as REFERENCE_FIT_LOW
from .core import VERSION as VERSION
from .core import ErrorCode as ErrorCode
from .core import Limits as Limits
from .core import Mode as Mode
from .core import Op as Op
from .core import ProtocolError as ProtocolError
from .core import ReferenceMode as ReferenceMode
from .core import WireEnum as WireEnum
from .core import default_endpoint as default_endpoint
from .replies import REPLIES as REPLIES
from .replies import CancelReply as CancelReply
from .replies import ColorizeReply as ColorizeReply
from .replies import InfoReply as InfoReply
from .replies import ModelInfo as ModelInfo
from .replies import Ranked as Ranked
from .replies import RecommendReferencesReply as RecommendReferencesReply
from .replies import RegionsReply as RegionsReply
from .replies import Reply as Reply
from .replies import Suggestion as Suggestion
from .replies import SuggestPointsReply as SuggestPointsReply
from .replies import Swatch as Swatch
from .replies import SwatchesReply as SwatchesReply
from .replies import error_map as error_map
from .replies import progress_map as progress_map
from .replies import reply_map as reply_map
from .requests import REQUESTS as REQUESTS
from .requests import CancelRequest as CancelRequest
from .requests import ColorizeRequest as ColorizeRequest
from .requests import InfoRequest as InfoRequest
from .requests import RecommendReferencesRequest as RecommendReferencesRequest
from .requests import RegionsRequest as RegionsRequest
from .requests import Request as Request
from .requests import SuggestPointsRequest as SuggestPointsRequest
from .requests import SwatchesRequest as SwatchesRequest
from .requests import parse_envelope as parse_envelope
from .requests import parse_request as parse_request
from .requests import request_map as request_map
from .values import GlobalHints as GlobalHints
from .values import Image as Image
from .values import ImageLookup as ImageLookup
from .values import Point as Point
from .values import RegionHint as RegionHint
from .values import Spot as Spot
from .values import image_id as image_id
