"""The shopper's side of the API: the consumer page, the small pages answering its
forms, and their words in English and Simplified Chinese.

- `api.consumer.page`: the unit view rendered as the verification page;
- `api.consumer.page_signals`: the claim and report forms, the notices answering them,
  the words of counterfeit-signal reasons, and the localised reasons of the JSON view;
- `api.consumer.i18n` (with `api.consumer.i18n_signals`): the messages and the language
  choice;
- `api.consumer.environment`: the one Jinja environment over ``templates/``.

Everything here presents what it is given: no I/O beyond reading the templates, no clock.
The routers (`api.routers.resolver`, `units`, `reports`) fetch, record and choose.
"""
