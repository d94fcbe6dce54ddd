"""The API's blueprints, one per spec tag (pets and bookings share "Booking"), in the order
the docs show them."""

from . import auth, bookings, credentials, pet, resources, store, user, webhooks

BLUEPRINTS = (auth.blp, credentials.blp, pet.blp, bookings.blp, resources.blp, webhooks.blp,
              store.blp, user.blp)
