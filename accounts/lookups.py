"""A lookup for the audit trail's addresses: ``ip__in_network="2001:db8:1:2::/64"``.

PostgreSQL stores a ``GenericIPAddressField`` as ``inet``, whose ``<<=`` operator is "within or equal to";
no other database here has it, so ``accounts.audit.from_client`` uses it on PostgreSQL only.
"""

from django.db import NotSupportedError
from django.db.models import GenericIPAddressField, Lookup


@GenericIPAddressField.register_lookup
class InNetwork(Lookup):
    lookup_name = "in_network"
    prepare_rhs = False  # a network, which the field's own preparation (an address) would refuse

    def as_sql(self, compiler, connection):
        raise NotSupportedError("ip__in_network needs PostgreSQL's inet type")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} <<= %s::inet", [*lhs_params, str(self.rhs)]
