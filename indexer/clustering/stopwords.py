"""Compact Russian and English stop words for cluster keywords.

Function words and complaint boilerplate that say nothing about *what* went
wrong. Matched on the lower-cased surface form (ё folded to е), before
stemming, so a content word that merely shares a stem is kept.
"""

from __future__ import annotations

ENGLISH = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being below
    between both but by can cannot could couldn't did didn't do does doesn't doing don't down during each even ever
    every few for from further get gets getting got gotten had hadn't has hasn't have haven't having he her here hers
    herself him himself his how however i if in into is isn't it it's its itself just let me more most much must my
    myself no nor not now of off on once one only or other our ours ourselves out over own per please same she should
    shouldn't so some still such than that that's the their theirs them themselves then there these they this those
    through to too under until up upon us very via was wasn't we were weren't what when where whether which while who
    whom whose why will with within without won't would wouldn't yes yet you your yours yourself yourselves also
    already another around back since though thus told said say says going go went made make makes many may might
    like well would know knew thing things way anyone anything anybody someone something everyone everything
    nothing either neither
    """.split()
)

RUSSIAN = frozenset(
    """
    а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да даже для до его ее ей ему
    если есть еще же за здесь и из или им их к как какая какой когда кто ли либо мне мной может мой моя мы на над
    надо наш не него нее нет ни них но ну о об однако он она они оно от очень по под после при про раз с сам свой
    себе себя со так также такой там те тем то того тоже той только том тот ту ты у уже хотя чего чей чем что чтобы
    чье чья эта эти это этого этой этом этот я ведь вообще вроде всё её ещё опять пока потом потому почему просто
    разве сейчас снова совсем тогда тут уж чтоб будет будут буду будем было будто какие каких какую который которая
    которые которых которое которой котором которую мог могу может можно мои моей моего моих нам нами нас нему ним
    ними них ничего него нибудь кого кому чём чему всем всеми всю вся весь всех свою своей своего своих свои своим
    этим этими этих этому ему им наши нашей нашего наших ваш ваша ваше ваши вашей вашего хочу хотел хотела
    хотели некоторое некоторые некоторых например именно поэтому итоге вообще
    """.split()
)

# folded like the tokens they are compared with
STOP_WORDS = frozenset(w.replace("ё", "е") for w in ENGLISH | RUSSIAN)


def is_stop_word(token: str) -> bool:
    return token.lower().replace("ё", "е") in STOP_WORDS


# Filler: words that are not function words but say nothing about what went
# wrong (reporting verbs, time and quantity words, politeness, intensifiers,
# review-site boilerplate). Keywords and keyphrases skip them as well.
FILLER_ENGLISH = frozenset(
    """
    able actually again ago almost already always anyway asked asking away bad best better called calling calls
    came come comes coming contacted day days did done each eight else enough even finally first five four gave give
    given gives giving good great help helped hi hello hour hours just last late later least left less let lot lots
    many month months morning much need needed never new next nice night now number one ones part pay paid people
    please point put really received recently regarding right said saw see seems seen sent several since six
    soon still stated states sure take taken takes taking tell telling ten thank thanks then there three time times
    today took tried try trying twice two use used using want wanted week weeks went whole work worked working year
    years yesterday xxxx xx xxx dear regards sincerely hereby kindly also get got would could should received
    span style div class font nbsp amp quot href http https www com html
    """.split()
)

FILLER_RUSSIAN = frozenset(
    """
    сказал сказала сказали говорит говорят говорил говорила ответил ответила ответили вдруг пожалуйста спасибо
    здравствуйте добрый день дня дней года год лет раза раз два две три четыре пять несколько много мало очень
    сегодня вчера завтра потом сразу снова уже всё все весь просто вообще ещё также итоге конечно кстати типа
    вроде видимо наверное действительно вообщем впрочем хорошо плохо нормально отлично ужасно пишу писал
    написал написала обратился обратилась обращался обращалась звонил звонила позвонил позвонила решил решила
    решили хочется хотелось хотим хотят сделать делать сделали может могут мог могла стал стала стали получил
    получила получили итог причем причём вопрос вопросы человек люди время времени момент месяц месяца месяцев
    неделю недели недель минут часа часов отзыв отзыва отзывы банк банка банке банком данный данного данной
    являюсь являетесь является уважаемые уважаемый подробнее читать полностью оценка балл баллов прошу просим
    принять примите принятие меры мер помочь помогите разобраться разберитесь обратить внимание сих пор
    span style
    """.split()
)

FILLER = frozenset(w.replace("ё", "е") for w in FILLER_ENGLISH | FILLER_RUSSIAN)


def is_filler(token: str) -> bool:
    """A stop word or a filler word: never part of a keyword or keyphrase."""
    low = token.lower().replace("ё", "е")
    return low in STOP_WORDS or low in FILLER
