"""Built-in plugins; importing this package registers them (``PluginsConfig.ready``)."""

from .agency_check import plugin as _agency_check  # noqa: F401
from .email import plugin as _email  # noqa: F401
from .qpay import plugin as _qpay  # noqa: F401
from .reference_json import plugin as _reference_json  # noqa: F401
from .sms_http import plugin as _sms_http  # noqa: F401
from .tumen_status import plugin as _tumen_status  # noqa: F401
from .webhook import plugin as _webhook  # noqa: F401
from .xyp import plugin as _xyp  # noqa: F401
from .xyp import reference as _xyp_reference  # noqa: F401
