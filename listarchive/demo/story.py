"""A generated, realistic kernel-style development list for ``make demo``.

:func:`generate_demo_mbox` builds a toy driver tree in a real git repository, commits a history
with real ``git`` commands, and writes three weeks of ``demo-devel`` mail as one mboxrd file:
patch series sent with ``git format-patch --thread --cover-letter -vN`` (real diffs, real
``git patch-id`` values, a v1 and a v2 sharing a b4 ``change-id:``), reviews with quoted text and
trailers (those of v1 quote the diff from a hunk header and comment under single lines, which
the site shows beside those lines), an RFC, a fix with ``Fixes:``/``Reported-by:``, a
``git request-pull`` pull request, and ordinary discussion: deep reply chains, a non-ASCII
author and subject, attachments and an HTML-only mail from a corporate mailer.

Everything is deterministic for a given ``seed`` and ``now``: git gets its names and dates from
the environment (never from the user's configuration, which could add signatures or change
defaults), and the Message-IDs and Dates that ``git format-patch`` and ``git send-email`` would
take from the clock are replaced by ones drawn from the seeded generator. The commit ids in the
mail ("Fixes: 1a2b3c4d5e6f", "commit: ..." in the maintainer's thank-you) are the repository's
real ones, so ``listarchive git-scan`` on the generated repository finds the applied patches.

The module reads top to bottom: the people, the toy tree, and :func:`_write_story`, the three
weeks themselves; the builders that turn files into commits and commits into mail are
:mod:`listarchive.demo.builder`.
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from listarchive.demo.builder import (
    ARCHIVE_URL,
    MBOX_NAME,
    PULL_URL,
    DemoBuilder,
    DemoFiles,
    Person,
    attribution,
    diff_excerpt,
    edit,
    excerpt,
    sign,
)
from listarchive.mail.mbox import to_mboxrd

MARA = Person("Mara Lindqvist", "mara.lindqvist@example.org", 1, "mutt")
TOBIAS = Person("Tobias Reinholt", "tobias@example.com", 1, "thunderbird")
PRIYA = Person("Priya Venkataraman", "priya.v@example.org", 5.5, "mutt")
DANIEL = Person("Daniel Okafor", "dokafor@example.com", 0, "mutt")
HIROSHI = Person("Hiroshi Tanabe", "tanabe@example.org", 9, "gmail")
ELENA = Person("Elena Sorokina", "elena.sorokina@example.com", 3, "thunderbird")
SAMIR = Person("Samir Haddad", "samir@example.com", 2, "mutt")
GRACE = Person("Grace O'Donnell", "grace.odonnell@example.org", -5, "thunderbird")
KEVIN = Person("Kevin Park", "kpark@corp.example.com", -8, "outlook")
LUKASZ = Person("Łukasz Wójcik", "lukasz.wojcik@example.org", 1, "thunderbird")
JOSE = Person("José Müller", "jose.mueller@example.com", 1, "gmail")
ROBOT = Person("Demo Build Robot", "build-robot@ci.example.org", 8, "bot")

# --- the toy tree -------------------------------------------------------------------------------

MAINTAINERS_V1 = """\
Maintainers of the demo tree
============================

Send patches to the people listed under M: and R: of every section that covers the files you
touch, and to the list under L:. Field letters follow the kernel's MAINTAINERS file.

Maintainers List
----------------

CLOCK DEMO DRIVER
M:\tMara Lindqvist <mara.lindqvist@example.org>
L:\tdemo-devel@lists.example.org
S:\tMaintained
T:\tgit https://git.example.org/demo.git clk-next
F:\tDocumentation/driver-api/clk-demo.rst
F:\tdrivers/clk/demo/

DEMO DOCUMENTATION
M:\tGrace O'Donnell <grace.odonnell@example.org>
L:\tdemo-devel@lists.example.org
S:\tMaintained
F:\tDocumentation/
X:\tDocumentation/driver-api/clk-demo.rst

GPIO DEMO DRIVER
M:\tDaniel Okafor <dokafor@example.com>
R:\tSamir Haddad <samir@example.com>
L:\tdemo-devel@lists.example.org
S:\tSupported
T:\tgit https://git.example.org/demo.git gpio-fixes
F:\tDocumentation/driver-api/gpio-demo.rst
F:\tdrivers/gpio/gpio-demo.c

THE REST
M:\tMara Lindqvist <mara.lindqvist@example.org>
L:\tdemo-devel@lists.example.org
S:\tBuried alive in reviews
F:\t*
F:\t*/
"""

CLK_C = """\
// SPDX-License-Identifier: GPL-2.0-only
/*
 * Clock driver for the demo board: one gate and one 8-bit divider behind a
 * single register window.
 */

#include <linux/clk-provider.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/of.h>
#include <linux/platform_device.h>

#define DEMO_CLK_CTRL\t\t0x00
#define DEMO_CLK_CTRL_EN\tBIT(0)
#define DEMO_CLK_DIV\t\t0x04
#define DEMO_CLK_DIV_MASK\tGENMASK(7, 0)

struct demo_clk {
\tstruct clk_hw hw;
\tvoid __iomem *base;
};

#define to_demo_clk(_hw) container_of(_hw, struct demo_clk, hw)

static int demo_clk_enable(struct clk_hw *hw)
{
\tstruct demo_clk *dc = to_demo_clk(hw);

\twritel(DEMO_CLK_CTRL_EN, dc->base + DEMO_CLK_CTRL);
\treturn 0;
}

static void demo_clk_disable(struct clk_hw *hw)
{
\tstruct demo_clk *dc = to_demo_clk(hw);

\twritel(0, dc->base + DEMO_CLK_CTRL);
}

static unsigned long demo_clk_recalc_rate(struct clk_hw *hw,
\t\t\t\t\t  unsigned long parent_rate)
{
\tstruct demo_clk *dc = to_demo_clk(hw);
\tu32 div = readl(dc->base + DEMO_CLK_DIV) & DEMO_CLK_DIV_MASK;

\treturn parent_rate / (div + 1);
}

static const struct clk_ops demo_clk_ops = {
\t.enable = demo_clk_enable,
\t.disable = demo_clk_disable,
\t.recalc_rate = demo_clk_recalc_rate,
};

static int demo_clk_probe(struct platform_device *pdev)
{
\tstruct device *dev = &pdev->dev;
\tstruct clk_init_data init = { };
\tstruct demo_clk *dc;
\tconst char *parent;
\tint ret;

\tdc = devm_kzalloc(dev, sizeof(*dc), GFP_KERNEL);
\tif (!dc)
\t\treturn -ENOMEM;

\tdc->base = devm_platform_ioremap_resource(pdev, 0);
\tif (IS_ERR(dc->base))
\t\treturn PTR_ERR(dc->base);

\tparent = of_clk_get_parent_name(dev->of_node, 0);
\tinit.name = dev_name(dev);
\tinit.ops = &demo_clk_ops;
\tinit.parent_names = &parent;
\tinit.num_parents = 1;
\tdc->hw.init = &init;

\tret = devm_clk_hw_register(dev, &dc->hw);
\tif (ret)
\t\treturn ret;

\treturn devm_of_clk_add_hw_provider(dev, of_clk_hw_simple_get, &dc->hw);
}

static const struct of_device_id demo_clk_of_match[] = {
\t{ .compatible = "example,demo-clk" },
\t{ }
};
MODULE_DEVICE_TABLE(of, demo_clk_of_match);

static struct platform_driver demo_clk_driver = {
\t.probe = demo_clk_probe,
\t.driver = {
\t\t.name = "demo-clk",
\t\t.of_match_table = demo_clk_of_match,
\t},
};
module_platform_driver(demo_clk_driver);

MODULE_DESCRIPTION("Demo board clock driver");
MODULE_LICENSE("GPL");
"""

GPIO_C = """\
// SPDX-License-Identifier: GPL-2.0-only
/*
 * GPIO driver for the demo board: 8 lines in one register bank. The
 * direction registres sit at 0x00, the data register at 0x04.
 */

#include <linux/gpio/driver.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/platform_device.h>

#define DEMO_GPIO_DIR\t\t0x00
#define DEMO_GPIO_DATA\t\t0x04
#define DEMO_GPIO_NLINES\t8

struct demo_gpio {
\tstruct gpio_chip gc;
\tvoid __iomem *base;
};

static int demo_gpio_get(struct gpio_chip *gc, unsigned int offset)
{
\tstruct demo_gpio *dg = gpiochip_get_data(gc);

\treturn !!(readl(dg->base + DEMO_GPIO_DATA) & BIT(offset));
}

static void demo_gpio_set(struct gpio_chip *gc, unsigned int offset, int value)
{
\tstruct demo_gpio *dg = gpiochip_get_data(gc);
\tu32 val = readl(dg->base + DEMO_GPIO_DATA);

\tif (value)
\t\tval |= BIT(offset);
\telse
\t\tval &= ~BIT(offset);
\twritel(val, dg->base + DEMO_GPIO_DATA);
}

static int demo_gpio_probe(struct platform_device *pdev)
{
\tstruct device *dev = &pdev->dev;
\tstruct demo_gpio *dg;

\tdg = devm_kzalloc(dev, sizeof(*dg), GFP_KERNEL);
\tif (!dg)
\t\treturn -ENOMEM;

\tdg->base = devm_platform_ioremap_resource(pdev, 0);
\tif (IS_ERR(dg->base))
\t\treturn PTR_ERR(dg->base);

\tdg->gc.label = dev_name(dev);
\tdg->gc.parent = dev;
\tdg->gc.owner = THIS_MODULE;
\tdg->gc.base = -1;
\tdg->gc.ngpio = DEMO_GPIO_NLINES;
\tdg->gc.get = demo_gpio_get;
\tdg->gc.set = demo_gpio_set;

\treturn devm_gpiochip_add_data(dev, &dg->gc, dg);
}

static const struct of_device_id demo_gpio_of_match[] = {
\t{ .compatible = "example,demo-gpio" },
\t{ }
};
MODULE_DEVICE_TABLE(of, demo_gpio_of_match);

static struct platform_driver demo_gpio_driver = {
\t.probe = demo_gpio_probe,
\t.driver = {
\t\t.name = "demo-gpio",
\t\t.of_match_table = demo_gpio_of_match,
\t},
};
module_platform_driver(demo_gpio_driver);

MODULE_DESCRIPTION("Demo board GPIO driver");
MODULE_LICENSE("GPL");
"""

GPIO_IRQ = """\
static void demo_gpio_irq_mask(struct irq_data *d)
{
\tstruct gpio_chip *gc = irq_data_get_irq_chip_data(d);
\tstruct demo_gpio *dg = gpiochip_get_data(gc);
\tirq_hw_number_t hwirq = irqd_to_hwirq(d);

\tif (hwirq > DEMO_GPIO_NLINES)
\t\treturn;
\twritel(readl(dg->base + DEMO_GPIO_IRQ_MASK) | BIT(hwirq),
\t       dg->base + DEMO_GPIO_IRQ_MASK);
\tgpiochip_disable_irq(gc, hwirq);
}

static void demo_gpio_irq_unmask(struct irq_data *d)
{
\tstruct gpio_chip *gc = irq_data_get_irq_chip_data(d);
\tstruct demo_gpio *dg = gpiochip_get_data(gc);
\tirq_hw_number_t hwirq = irqd_to_hwirq(d);

\tgpiochip_enable_irq(gc, hwirq);
\twritel(readl(dg->base + DEMO_GPIO_IRQ_MASK) & ~BIT(hwirq),
\t       dg->base + DEMO_GPIO_IRQ_MASK);
}

static const struct irq_chip demo_gpio_irq_chip = {
\t.name = "demo-gpio",
\t.irq_mask = demo_gpio_irq_mask,
\t.irq_unmask = demo_gpio_irq_unmask,
\t.flags = IRQCHIP_IMMUTABLE,
\tGPIOCHIP_IRQ_RESOURCE_HELPERS,
};

static int demo_gpio_probe("""

CLK_DOC = """\
.. SPDX-License-Identifier: GPL-2.0

================
Demo board clock
================

The demo board has a single clock output fed by the 24 MHz board oscillator
through an 8-bit divider. The gate and the divider live in one register
window described by the ``example,demo-clk`` device tree node.
"""

GPIO_DOC = """\
.. SPDX-License-Identifier: GPL-2.0

===============
Demo board GPIO
===============

Eight general purpose lines, each usable as an interrupt source. Line 0 is
wired to the user button, line 7 to the status LED.
"""

TREE = {
    "MAINTAINERS": MAINTAINERS_V1,
    "README": "Demo tree: toy drivers used to show a mailing-list archive at work.\n",
    "drivers/clk/demo/Makefile": "obj-$(CONFIG_COMMON_CLK_DEMO)\t+= clk-demo.o\n",
    "drivers/clk/demo/clk-demo.c": CLK_C,
    "drivers/gpio/Makefile": "obj-$(CONFIG_GPIO_DEMO)\t\t+= gpio-demo.o\n",
    "drivers/gpio/gpio-demo.c": GPIO_C,
    "Documentation/driver-api/clk-demo.rst": CLK_DOC,
    "Documentation/driver-api/gpio-demo.rst": GPIO_DOC,
}

CLK = "drivers/clk/demo/clk-demo.c"
GPIO = "drivers/gpio/gpio-demo.c"
CLK_DOC_PATH = "Documentation/driver-api/clk-demo.rst"

ROUND_RATE = """\
static long demo_clk_round_rate(struct clk_hw *hw, unsigned long rate,
\t\t\t\tunsigned long *parent_rate)
{
\tunsigned int div = DIV_ROUND_UP(*parent_rate, rate);

\tdiv = clamp(div, 1U, DEMO_CLK_MAX_DIV);
\treturn *parent_rate / div;
}

static const struct clk_ops demo_clk_ops = {"""

SET_RATE_V1 = """\
static int demo_clk_set_rate(struct clk_hw *hw, unsigned long rate,
\t\t\t     unsigned long parent_rate)
{
\tstruct demo_clk *dc = to_demo_clk(hw);
\tunsigned int div = DIV_ROUND_UP(parent_rate, rate);

\twritel(div - 1, dc->base + DEMO_CLK_DIV);
\treturn 0;
}

static const struct clk_ops demo_clk_ops = {"""

SET_RATE_V2 = """\
static int demo_clk_set_rate(struct clk_hw *hw, unsigned long rate,
\t\t\t     unsigned long parent_rate)
{
\tstruct demo_clk *dc = to_demo_clk(hw);
\tunsigned int div = DIV_ROUND_UP(parent_rate, rate);
\tu32 val;

\t/* Bits 31:8 are reserved and must keep their reset value. */
\tdiv = clamp(div, 1U, DEMO_CLK_MAX_DIV);
\tval = readl(dc->base + DEMO_CLK_DIV) & ~DEMO_CLK_DIV_MASK;
\twritel(val | (div - 1), dc->base + DEMO_CLK_DIV);
\treturn 0;
}

static const struct clk_ops demo_clk_ops = {"""

RATE_DOC_V1 = """
Rate changes
============

The divider ranges from 1 to 256, so the output can be set anywhere between
93.75 kHz and 24 MHz. Requests outside that range are rounded to the nearest
supported rate.
"""

RATE_DOC_V2 = """
Rate changes
============

The divider ranges from 1 to 256, so the output can be set anywhere between
93.75 kHz and 24 MHz. A request is rounded to the closest supported rate that
is not above it; requests below 93.75 kHz get 93.75 kHz.
"""


def generate_demo_mbox(target: Path, seed: int = 1, now: datetime | None = None) -> DemoFiles:
    """Write ``demo-devel.mbox``, ``MAINTAINERS`` and the git repository ``repo/`` to ``target``.

    The three weeks of mail end at ``now`` (default: the current hour, so that the demo looks
    fresh); the same ``seed`` and ``now`` give the same bytes. An existing ``target/repo`` is
    replaced. Needs ``git`` on the PATH (``git format-patch``, ``request-pull`` and ``am``);
    raises :class:`ListarchiveError` when it is missing or fails.
    """
    if now is None:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    target = Path(target).resolve()  # git request-pull needs an absolute repository path
    target.mkdir(parents=True, exist_ok=True)
    repo = target / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir()
    builder = DemoBuilder(repo, seed, now, keeper=MARA)
    builder.git("init", "-q", "-b", "main")
    _write_story(builder)
    maintainers = target / "MAINTAINERS"
    maintainers.write_text(builder.read("MAINTAINERS"), encoding="utf-8")
    # The mbox comes last and appears whole (rename), so its presence means a finished demo:
    # `listarchive demo` reuses it instead of generating again.
    mbox = target / MBOX_NAME
    partial = target / f"{MBOX_NAME}.partial"
    partial.write_bytes(builder.mbox())
    partial.replace(mbox)
    return DemoFiles(mbox=mbox, maintainers=maintainers, repo=repo)


# --- the three weeks ------------------------------------------------------------------------------

# The signature separator "-- " ends in a space, which editors and linters strip from literals.
SIG_DASHES = "-- "
PRBOT = Person("pr-tracker-bot", "pr-tracker-bot@example.org", 0, "bot")

DMESG = """\
[    0.000000] Booting Linux on physical CPU 0x0
[    0.000000] Linux version 6.8.0-demo (elena@build) (gcc 13.2.0) #14 SMP PREEMPT
[    1.204113] demo-gpio 10020000.gpio: registered 8 lines
[   12.877210] gpio gpiochip0: (10020000.gpio): masking hwirq 8
[   12.877298] irq 41: nobody cared (try booting with the "irqpoll" option)
[   12.877301] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.8.0-demo #14
[   12.877305] Hardware name: Example Demo Board rev B (DT)
[   12.877310] Call trace:
[   12.877312]  dump_backtrace+0x98/0xf0
[   12.877318]  show_stack+0x20/0x38
[   12.877321]  __report_bad_irq+0x54/0x100
[   12.877325]  note_interrupt+0x31c/0x388
[   12.877329]  handle_irq_event+0x88/0xb0
[   12.877333]  handle_level_irq+0xe0/0x1a8
[   12.877337] handlers:
[   12.877339] [<00000000a1b2c3d4>] demo_button_irq
[   12.877342] Disabling IRQ #41
"""

DEMO_CONFIG = b"""\
CONFIG_ARM64=y
CONFIG_COMMON_CLK=y
CONFIG_COMMON_CLK_DEMO=y
CONFIG_GPIOLIB=y
CONFIG_GPIOLIB_IRQCHIP=y
CONFIG_GPIO_DEMO=y
# CONFIG_GPIO_DEMO_DEBUG is not set
"""

KEVIN_HTML = """\
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>
<body><div style="font-family:Calibri,Arial,sans-serif;font-size:11pt">
<p>Hi Hiroshi,</p>
<p>We run both demo drivers under QEMU in our lab every night. The trick is the
<b>fixed-clock</b> parent for the clock node; this is what we use:</p>
<pre>osc24m: oscillator {
    compatible = "fixed-clock";
    #clock-cells = &lt;0&gt;;
    clock-frequency = &lt;24000000&gt;;
};</pre>
<p>Happy to share our whole board file if that helps.</p>
<p>Regards,<br>Kevin</p>
<p style="color:#888888;font-size:8pt">Kevin Park | Platform Software | Example Corp</p>
</div>
<hr>
<div><b>From:</b> Hiroshi Tanabe &lt;tanabe@example.org&gt;<br>
<b>Subject:</b> Running the demo drivers under QEMU?</div>
<blockquote style="border-left:1px solid #ccc;padding-left:6px">Is there a QEMU machine
that can run the demo clock and GPIO drivers?</blockquote>
</body></html>
"""


def _cut(text: str, start: str, end: str) -> str:
    """``text`` without the part from ``start`` up to (not including) ``end``."""
    i, j = text.index(start), text.index(end)
    return text[:i] + text[j:]


def _write_story(b: DemoBuilder) -> None:
    """Three weeks of demo-devel: the history in git first, each mail when it is sent."""
    day0 = b.start

    # The tree as it was before the three weeks.
    b.commit(MARA, day0 - timedelta(days=60), sign(
        "Add the demo tree\n\nTwo toy drivers, their documentation and a MAINTAINERS file.",
        MARA), dict(TREE))
    gpio_irq = edit(edit(edit(edit(edit(GPIO_C,
        "#define DEMO_GPIO_NLINES\t8\n", "#define DEMO_GPIO_IRQ_MASK\t0x08\n"
        "#define DEMO_GPIO_NLINES\t8\n"),
        "#include <linux/gpio/driver.h>\n",
        "#include <linux/gpio/driver.h>\n#include <linux/interrupt.h>\n"),
        "static int demo_gpio_probe(", GPIO_IRQ),
        "\tstruct demo_gpio *dg;\n", "\tstruct gpio_irq_chip *girq;\n\tstruct demo_gpio *dg;\n"),
        "\tdg->gc.set = demo_gpio_set;\n",
        "\tdg->gc.set = demo_gpio_set;\n\n\tgirq = &dg->gc.irq;\n"
        "\tgpio_irq_chip_set_chip(girq, &demo_gpio_irq_chip);\n"
        "\tgirq->handler = handle_level_irq;\n\tgirq->default_type = IRQ_TYPE_NONE;\n")
    irq_commit = b.commit(DANIEL, day0 - timedelta(days=41), sign(
        "gpio: demo: add interrupt support\n\nEvery line of the demo bank can raise a level "
        "interrupt; expose them\nthrough a GPIO irqchip so that the user button can wake the "
        "board.", DANIEL), {GPIO: gpio_irq})
    base = b.commit(GRACE, day0 - timedelta(days=30), sign(
        "README: say where the documentation lives", GRACE),
        {"README": TREE["README"] + "\nDriver documentation: Documentation/driver-api/.\n"})

    # --- a question with a deep reply chain and an HTML-only answer
    q = b.post(HIROSHI, b.at(0, 10, HIROSHI), "Running the demo drivers under QEMU?", """\
Hi all,

Is there a QEMU machine that can run the demo clock and GPIO drivers? I
tried "virt" with a device tree overlay that adds both nodes, but the
clock driver never probes and the GPIO driver stays deferred:

  platform 10010000.clock: deferred probe pending
  platform 10020000.gpio: deferred probe pending

Any hints welcome.

Thanks,
Hiroshi
""")
    q1 = b.reply(q, DANIEL, 0, 6, f"""\
{attribution(q)}
{excerpt(q, "never probes", 1, 1)}

The clock node needs a parent: of_clk_get_parent_name() returns NULL
without one and the core refuses to register the clock. Add a fixed
clock and point at it:

	osc24m: oscillator {{
		compatible = "fixed-clock";
		#clock-cells = <0>;
		clock-frequency = <24000000>;
	}};

	clock@10010000 {{
		compatible = "example,demo-clk";
		reg = <0x10010000 0x100>;
		clocks = <&osc24m>;
		#clock-cells = <0>;
	}};

Daniel
""")
    q2 = b.reply(q1, HIROSHI, 0, 9, f"""\
{attribution(q1)}
{excerpt(q1, "The clock node needs a parent", 0, 2)}

That did it for the clock, thanks. The GPIO controller is still
deferred though, and it does not even use the clock.

Hiroshi
""")
    q3 = b.reply(q2, MARA, 0, 14, f"""\
{attribution(q2)}
{excerpt(q2, "still", 0, 1)}

Then it is not a dependency problem. Check the compatible string in
your overlay against demo_gpio_of_match[]: "example,demo-gpio".
A deferred probe that never resolves is often a node that simply
matches no driver, and the message is misleading.

Mara
""")
    q4 = b.reply(q3, HIROSHI, 1, 1, f"""\
{attribution(q3)}
{excerpt(q3, "Check the compatible string", 0, 1)}

Found it: "exmaple,demo-gpio". Embarrassing. Both drivers probe now and
the button interrupt fires.

Would a short QEMU how-to under Documentation/ be welcome? It took me
an afternoon to put the pieces together.

Hiroshi
""")
    b.reply(q4, GRACE, 1, 4, f"""\
{attribution(q4)}
{excerpt(q4, "Would a short QEMU how-to", 0, 1)}

Yes, please. Documentation/driver-api/ is the place for now; send it
to the list and Cc me. Include the whole device tree fragment, the
"exmaple" trap included.

Grace
""", cc=[HIROSHI])
    html = b.reply(q, KEVIN, 1, 8, "Hi Hiroshi, we run both demo drivers under QEMU ...",
                   html=KEVIN_HTML)
    b.reply(html, DANIEL, 1, 10, f"""\
{attribution(html)}
> Hi Hiroshi, we run both demo drivers under QEMU ...

Thanks Kevin. Your mail reached the list as HTML only; many of us read
the list in plain-text mailers, so please switch your client to plain
text for list mail.

Daniel
""")

    # --- a three-patch series, version 1
    change_id = f"{day0 + timedelta(days=1):%Y%m%d}-clk-demo-rate-{b.token(12, '0123456789abcdef')}"
    sent_v1 = b.at(1, 9, TOBIAS)
    b.git("checkout", "-q", "-b", "clk-rate-v1", base)
    clk1 = edit(edit(edit(CLK_C,
        "#define DEMO_CLK_DIV_MASK\tGENMASK(7, 0)\n",
        "#define DEMO_CLK_DIV_MASK\tGENMASK(7, 0)\n#define DEMO_CLK_MAX_DIV\t256U\n"),
        "static const struct clk_ops demo_clk_ops = {", ROUND_RATE),
        "\t.recalc_rate = demo_clk_recalc_rate,\n",
        "\t.recalc_rate = demo_clk_recalc_rate,\n\t.round_rate = demo_clk_round_rate,\n")
    msg1 = ("clk: demo: add a round_rate callback\n\nThe divider only takes values from 1 to 256, "
            "but the driver has no\nround_rate callback, so clk_round_rate() returns whatever "
            "the consumer\nasked for and callers cannot know the rate they will get.\n\n"
            "Report the rate the divider can actually produce.")
    b.commit(TOBIAS, sent_v1 - timedelta(hours=3), sign(msg1, TOBIAS), {CLK: clk1})

    def with_set_rate(text: str, impl: str) -> str:
        return edit(edit(text, "static const struct clk_ops demo_clk_ops = {", impl),
                     "\t.round_rate = demo_clk_round_rate,\n",
                     "\t.round_rate = demo_clk_round_rate,\n\t.set_rate = demo_clk_set_rate,\n")

    msg2 = ("clk: demo: implement set_rate\n\nProgram the divider so that consumers can change "
            "the output rate.\nThe register holds the divider minus one.")
    b.commit(TOBIAS, sent_v1 - timedelta(hours=2), sign(msg2, TOBIAS),
             {CLK: with_set_rate(clk1, SET_RATE_V1)})
    msg3 = ("Documentation: clk: describe the demo clock's rate range\n\nNow that the rate can "
            "be changed, say which rates the divider supports\nand how requests are rounded.")
    b.commit(TOBIAS, sent_v1 - timedelta(hours=1), sign(msg3, TOBIAS),
             {CLK_DOC_PATH: CLK_DOC + RATE_DOC_V1})
    cover_v1 = ("clk: demo: support rate changes\n\nThe demo clock can gate its output but not "
                "change its rate, although the\nhardware has an 8-bit divider. This series adds "
                "round_rate and set_rate\nand documents the supported range.\n\nTested on the "
                "demo board rev B with clk_set_rate() from a test module,\nmeasuring the output "
                "on a scope.\n")
    b.git("config", "branch.clk-rate-v1.description", cover_v1)
    signoff = f"\nBest regards,\n{SIG_DASHES}\n{TOBIAS.address}\n"
    v1 = b.send_patches(b.format_patch(f"{base}..clk-rate-v1", TOBIAS, sent_v1, "--cover-letter",
                                       "--cover-from-description=subject", f"--base={base}"),
                        TOBIAS, sent_v1, "clk-demo-rate", 1, [MARA, PRIYA, GRACE],
                        extra_cover=f"change-id: {change_id}\n{signoff}")
    v1_cover, v1_p1, v1_p2, v1_p3 = v1
    # The reviews of v1 quote the diff down to a hunk header and comment under single lines,
    # so that the patch pages show them beside those lines. Priya's comment on 1/3 is on code
    # that v2 leaves as it is (the v2 series page counts it as carried over); hers on 2/3 and
    # Grace's on 3/3 ask for the changes that v2 makes.
    b.reply(v1_p1, PRIYA, 2, 8, f"""\
{attribution(v1_p1)}
{excerpt(v1_p1, "Report the rate the divider", 0, 0)}
> [...]
{diff_excerpt(v1_p1, "div = clamp(div, 1U, DEMO_CLK_MAX_DIV);")}

Good: the clamp matches what the hardware can do, 256 being the largest
divider the 8-bit field holds.

{excerpt(v1_p1, "return *parent_rate / div;", 0, 1)}
> [...]

Looks good to me.

Reviewed-by: {PRIYA.address}
""")
    cr = b.reply(v1_p2, PRIYA, 2, 9, f"""\
{attribution(v1_p2)}
{diff_excerpt(v1_p2, "unsigned int div = DIV_ROUND_UP(parent_rate, rate);")}

Nothing keeps div within 1..256 here: round_rate clamps, but set_rate
can be called with a rate that did not come from it.

{excerpt(v1_p2, "writel(div - 1", 1, 0)}

Then div - 1 spills into bits 31:8 of the register. Those bits are
reserved and, according to the datasheet, must keep their reset value,
so this needs to be a read-modify-write as well.

Please clamp like round_rate does and preserve the upper bits.

> [...]

Priya
""")
    cr2 = b.reply(cr, TOBIAS, 2, 15, f"""\
{attribution(cr)}
{excerpt(cr, "Please clamp like round_rate", 0, 0)}

Good catch, I missed the reserved bits completely. Will fix in v2.

Should set_rate also take a spinlock around the read-modify-write?
enable() writes the control register, but at a different offset.

Tobias
""")
    b.reply(cr2, MARA, 3, 7, f"""\
{attribution(cr2)}
{excerpt(cr2, "Should set_rate also take a spinlock", 0, 1)}

No need: the clk core calls set_rate with the prepare lock held, and
the control register is separate. The clamp and the read-modify-write
are enough.

Mara
""")
    b.reply(v1_p3, GRACE, 3, 10, f"""\
{attribution(v1_p3)}
{diff_excerpt(v1_p3, "+supported rate.")}

Nit: round_rate uses DIV_ROUND_UP, so a request is rounded down to the
closest rate that is not above it, not to the nearest one. Please say
that, and what happens to requests below the minimum.

With that fixed:

Acked-by: {GRACE.address}
""")
    b.reply(v1_cover, TOBIAS, 3, 16, f"""\
{attribution(v1_cover)}
{excerpt(v1_cover, "This series adds", 1, 1)}

Thanks for the reviews. v2 next week with the clamp and read-modify-write
in set_rate (Priya) and the corrected wording in the documentation
(Grace).

Tobias
""")

    # --- an RFC with a build robot's report
    b.git("checkout", "-q", "-b", "gpio-mmio-rfc", base)
    rfc_c = edit(edit(edit(_cut(gpio_irq, "static int demo_gpio_get(",
                                    "static void demo_gpio_irq_mask("),
        "\tdg->gc.get = demo_gpio_get;\n\tdg->gc.set = demo_gpio_set;\n", ""),
        "\tstruct demo_gpio *dg;\n", "\tstruct demo_gpio *dg;\n\tint ret;\n"),
        "\tdg->gc.label = dev_name(dev);\n",
        "\tret = bgpio_init(&dg->gc, dev, 4, dg->base + DEMO_GPIO_DATA, NULL, NULL,\n"
        "\t\t\t dg->base + DEMO_GPIO_DIR, NULL, 0);\n\tdg->gc.label = dev_name(dev);\n")
    sent_rfc = b.at(5, 10, HIROSHI)
    b.commit(HIROSHI, sent_rfc - timedelta(hours=1), sign(
        "gpio: demo: use the generic MMIO GPIO helpers\n\nThe get and set callbacks are what "
        "bgpio_init() provides for a bank\nwith one data and one direction register. Use it "
        "and drop our copies.", HIROSHI), {GPIO: rfc_c})
    b.git("notes", "add", "-m", "RFC because I could only test this under QEMU, and I am not\n"
          "sure the direction register polarity matches what bgpio expects.",
          who=HIROSHI, when=sent_rfc)
    (rfc,) = b.send_patches(b.format_patch("-1", HIROSHI, sent_rfc, "--rfc", "--notes",
                                           f"--base={base}"),
                            HIROSHI, sent_rfc, "gpio-demo-bgpio", 1, [DANIEL, SAMIR])
    b.reply(rfc, ROBOT, 6, 2, f"""\
Hi Hiroshi,

The build robot noticed the following build warning:

[auto build test WARNING on demo/main]

url:    {PULL_URL}/log/?h=gpio-demo-bgpio
config: arm64-defconfig (attached config omitted, see the url)
compiler: aarch64-linux-gnu-gcc (GCC) 13.2.0

If you fix the issue in a separate patch/commit, kindly add the following
tags
| Reported-by: {ROBOT.address}
| Closes: {ARCHIVE_URL}/r/{rfc.msgid}

All warnings (new ones prefixed by >>):

   drivers/gpio/gpio-demo.c: In function 'demo_gpio_probe':
>> drivers/gpio/gpio-demo.c:71:13: warning: variable 'ret' set but not used
   [-Wunused-but-set-variable]
      71 |         int ret;
         |             ^~~

--
Demo build robot, testing every patch on demo-devel
""")
    rfc1 = b.reply(rfc, DANIEL, 6, 9, f"""\
{attribution(rfc)}
{excerpt(rfc, "bgpio_init(&dg->gc", 0, 1)}

I like the direction. Two things: the return value is ignored (the
robot found it too), and the demo bank uses 1 for output in the
direction register, so dirout is right but please say so in the commit
message, that was your open question.

Daniel
""")
    rfc2 = b.reply(rfc1, HIROSHI, 6, 13, f"""\
{attribution(rfc1)}
{excerpt(rfc1, "the demo bank uses 1 for output", 0, 2)}

Thanks, that answers it. I checked with the QEMU model too: writing 1
to bit 3 of the direction register turns line 3 into an output.

I will check ret and send a non-RFC version.

Hiroshi
""")
    b.reply(rfc2, DANIEL, 7, 8, f"""\
{attribution(rfc2)}
{excerpt(rfc2, "non-RFC version", 0, 0)}

Please wait until the interrupt fix is in gpio-fixes, it touches the
same file, and rebase on top of it.

Daniel
""")

    # --- a bug report with attachments, the fix with Fixes:/Reported-by:, a typo fix
    bug = b.post(ELENA, b.at(6, 20, ELENA), "[BUG] gpio: demo: masking line 8 kills all button "
                 "interrupts", """\
Hi,

On the demo board rev B, after a driver masks hwirq 8 of the demo GPIO
bank, no interrupt from that bank arrives any more, the user button
included. The kernel then disables IRQ 41 ("nobody cared").

Steps: boot, then run the attached test module's "mask 8" command.
Full dmesg and my .config are attached.

This is with 6.8.0 plus the demo tree at main.

Elena
""", cc=[DANIEL, SAMIR], attachments=[("dmesg.txt", "text/plain", DMESG.encode()),
                                      ("config.gz", "application/gzip",
                                       gzip.compress(DEMO_CONFIG, mtime=0))])
    bug1 = b.reply(bug, SAMIR, 7, 7, f"""\
{attribution(bug)}
{excerpt(bug, "after a driver masks hwirq 8", 0, 1)}

Reproduced under QEMU. demo_gpio_irq_mask() accepts hwirq 8 although
the bank only has lines 0..7, and bit 8 of the mask register is the
bank-wide enable. Patch follows.

Samir
""")
    b.reply(bug1, ELENA, 7, 9, f"""\
{attribution(bug1)}
{excerpt(bug1, "Patch follows", 0, 0)}

Thanks for the quick look. I'll test it as soon as it is out.

Elena
""")
    b.git("checkout", "-q", "-b", "gpio-irq-fix", base)
    sent_fix = b.at(7, 10, SAMIR)
    fix_msg = sign(
        "gpio: demo: fix off-by-one in the interrupt mask check\n\nThe bank has "
        "DEMO_GPIO_NLINES lines numbered from 0, but\ndemo_gpio_irq_mask() only rejects hwirq "
        "values above the count, so\nmasking hwirq 8 sets bit 8 of the mask register. That bit "
        "is the\nbank-wide interrupt enable, and every interrupt of the bank is lost.",
        SAMIR, trailers=[f'Fixes: {irq_commit[:12]} ("gpio: demo: add interrupt support")',
                         f"Reported-by: {ELENA.address}",
                         f"Closes: {ARCHIVE_URL}/r/{bug.msgid}"])
    b.commit(SAMIR, sent_fix - timedelta(minutes=40), fix_msg,
             {GPIO: edit(gpio_irq, "\tif (hwirq > DEMO_GPIO_NLINES)",
                          "\tif (hwirq >= DEMO_GPIO_NLINES)")})
    (fix,) = b.send_patches(b.format_patch("-1", SAMIR, sent_fix, f"--base={base}"),
                            SAMIR, sent_fix, "gpio-demo-irq-mask", 1, [DANIEL, ELENA])
    b.reply(fix, ELENA, 7, 15, f"""\
{attribution(fix)}
{excerpt(fix, "if (hwirq >= DEMO_GPIO_NLINES)", 1, 0)}

Fixes it here: the button keeps working after "mask 8".

Tested-by: {ELENA.address}
""")
    b.reply(fix, DANIEL, 8, 8, f"""\
{attribution(fix)}
{excerpt(fix, "masking hwirq 8 sets bit 8", 0, 0)}

Applied to gpio-fixes, thanks. I'll send it to Mara with the next pull.

Daniel
""")
    b.git("checkout", "-q", "-b", "gpio-typo", base)
    sent_typo = b.at(8, 11, LUKASZ)
    b.commit(LUKASZ, sent_typo - timedelta(minutes=20), sign(
        "gpio: demo: fix a typo in the header comment", LUKASZ),
        {GPIO: edit(gpio_irq, "registres", "registers")})
    (typo,) = b.send_patches(b.format_patch("-1", LUKASZ, sent_typo), LUKASZ, sent_typo,
                             "gpio-demo-typo", 1, [DANIEL])
    b.reply(typo, DANIEL, 9, 8, f"""\
{attribution(typo)}
{excerpt(typo, "registers", 1, 0)}

Applied to gpio-fixes, thanks!

Daniel
""")
    b.git("checkout", "-q", "-b", "gpio-fixes", base)
    b.git("am", "-q", "-s", "--patch-format=mboxrd", who=DANIEL, when=b.at(8, 8, DANIEL),
          stdin=to_mboxrd(fix.raw))
    b.git("am", "-q", "-s", "--patch-format=mboxrd", who=DANIEL, when=b.at(9, 8, DANIEL),
          stdin=to_mboxrd(typo.raw))

    # --- a discussion with a non-ASCII author and subject
    name = b.post(JOSE, b.at(9, 10, JOSE), "gpio-demo: “line” or “pin” – which term in the "
                  "docs?", """\
Hallo zusammen,

gpio-demo.rst says "line" everywhere, but the board schematic and the
datasheet say "pin", and Kconfig help text mixes both. For people who
come from the hardware side (like me) "pin" is much clearer.

Should the documentation switch to "pin", or at least explain that the
two mean the same thing here?

Grüße,
José
""")
    n1 = b.reply(name, LUKASZ, 9, 14, f"""\
{attribution(name)}
{excerpt(name, "Should the documentation switch", 0, 1)}

GPIO documentation says "line" on purpose: a pin is the physical ball
on the package, and on many SoCs one pin can be muxed to several
functions, only one of which is a GPIO line. For the demo board they
happen to be 1:1, so a sentence saying so would be enough, I think.

Łukasz
""")
    n2 = b.reply(n1, GRACE, 10, 8, f"""\
{attribution(n1)}
{excerpt(n1, "a sentence saying so would be enough", 0, 0)}

Agreed, keep "line" and add the sentence. José, would you like to send
the patch? It is a good first one.

Grace
""")
    n3 = b.reply(n2, JOSE, 10, 12, f"""\
{attribution(n2)}
{excerpt(n2, "José, would you like", 0, 1)}

Gern! I will, after I find out how git send-email works behind our
company's mail server. ;-)

José
""")
    b.reply(n3, LUKASZ, 10, 17, f"""\
{attribution(n3)}
{excerpt(n3, "git send-email", 0, 1)}

If SMTP is blocked, b4 can send through its web endpoint instead:
"b4 send --web-auth-new" once, then "b4 send" as usual.

Łukasz
""")
    b.reply(n1, DANIEL, 11, 9, f"""\
{attribution(n1)}
{excerpt(n1, "one pin can be muxed", 0, 1)}

Right, and the demo board's next revision will mux lines 6 and 7 with
the UART, so "line" is the future-proof word too.

Daniel
""")

    # --- version 2 of the series, carrying the trailers from the v1 reviews
    sent_v2 = b.at(11, 8, TOBIAS)
    b.git("checkout", "-q", "-b", "clk-rate-v2", base)
    b.commit(TOBIAS, sent_v2 - timedelta(hours=3),
             sign(msg1, TOBIAS, trailers=[f"Reviewed-by: {PRIYA.address}"]), {CLK: clk1})
    b.commit(TOBIAS, sent_v2 - timedelta(hours=2), sign(
        msg2 + "\nClamp the divider to what the hardware supports and keep the reserved\n"
        "upper bits of the register as they are.", TOBIAS),
        {CLK: with_set_rate(clk1, SET_RATE_V2)})
    b.commit(TOBIAS, sent_v2 - timedelta(hours=1),
             sign(msg3, TOBIAS, trailers=[f"Acked-by: {GRACE.address}"]),
             {CLK_DOC_PATH: CLK_DOC + RATE_DOC_V2})
    b.git("config", "branch.clk-rate-v2.description", cover_v1 + (
        "\n---\nChanges in v2:\n- 2/3: clamp the divider and preserve the reserved bits "
        "(Priya)\n- 3/3: describe the rounding direction correctly (Grace)\n- Collected "
        f"Reviewed-by and Acked-by tags\n- v1: {ARCHIVE_URL}/r/{v1_cover.msgid}\n"))
    v2 = b.send_patches(b.format_patch(f"{base}..clk-rate-v2", TOBIAS, sent_v2, "--cover-letter",
                                       "-v2", "--cover-from-description=subject",
                                       f"--base={base}"),
                        TOBIAS, sent_v2, "clk-demo-rate", 2, [MARA, PRIYA, GRACE],
                        extra_cover=f"change-id: {change_id}\n{signoff}")
    v2_cover, _v2_p1, v2_p2, v2_p3 = v2
    b.reply(v2_cover, PRIYA, 11, 14, f"""\
{attribution(v2_cover)}
{excerpt(v2_cover, "2/3: clamp the divider", 0, 0)}

Thanks, that addresses my comments. For the series:

Reviewed-by: {PRIYA.address}
""")
    b.reply(v2_p2, PRIYA, 11, 15, f"""\
{attribution(v2_p2)}
{excerpt(v2_p2, "Bits 31:8 are reserved", 0, 3)}

Exactly what I had in mind.

Priya
""")
    b.reply(v2_cover, LUKASZ, 12, 9, f"""\
{attribution(v2_cover)}
{excerpt(v2_cover, "This series adds", 1, 1)}

Tested on a rev B board: set 1 MHz, 12 MHz and 24 MHz and measured the
output; rates below 93.75 kHz are clamped as documented.

Tested-by: {LUKASZ.address}
""")
    b.reply(v2_p3, GRACE, 12, 11, f"""\
{attribution(v2_p3)}
{excerpt(v2_p3, "+is not above it", 1, 1)}

Much better, thanks.

Acked-by: {GRACE.address}
""")

    # --- a MAINTAINERS update
    b.git("checkout", "-q", "-b", "maintainers-reviewer", base)
    sent_maint = b.at(13, 9, PRIYA)
    b.commit(PRIYA, sent_maint - timedelta(minutes=30), sign(
        "MAINTAINERS: add myself as a reviewer for the demo clock driver\n\nI have been "
        "reviewing most demo clock patches for a while; make sure\nthat they reach me.",
        PRIYA), {"MAINTAINERS": edit(
            MAINTAINERS_V1, f"CLOCK DEMO DRIVER\nM:\t{MARA.address}\n",
            f"CLOCK DEMO DRIVER\nM:\t{MARA.address}\nR:\t{PRIYA.address}\n")})
    (maint,) = b.send_patches(b.format_patch("-1", PRIYA, sent_maint), PRIYA, sent_maint,
                              "maintainers-clk-demo", 1, [MARA])
    b.reply(maint, MARA, 13, 15, f"""\
{attribution(maint)}
{excerpt(maint, "I have been reviewing", 0, 0)}

And much appreciated.

Acked-by: {MARA.address}
""")

    # --- a documentation discussion
    docs = b.post(GRACE, b.at(14, 8, GRACE), "Documentation: one page per board instead of "
                  "per driver?", """\
Hi all,

Now that the clock page grows a section on rates and a QEMU how-to is
coming, I wonder whether we should organise Documentation/ per board
(Documentation/boards/demo.rst with clock, GPIO and QEMU sections)
rather than one page per driver.

Opinions?

Grace
""")
    d1 = b.reply(docs, MARA, 14, 12, f"""\
{attribution(docs)}
{excerpt(docs, "rather than one page per driver", 1, 0)}

Per driver, please: MAINTAINERS sections follow drivers, and a board
page would need Acks from every maintainer for every change.

Mara
""")
    d2 = b.reply(d1, HIROSHI, 15, 2, f"""\
{attribution(d1)}
{excerpt(d1, "Per driver, please", 0, 0)}

The QEMU how-to covers both drivers, though. Where should it go?

Hiroshi
""")
    b.reply(d2, GRACE, 15, 9, f"""\
{attribution(d2)}
{excerpt(d2, "Where should it go?", 0, 0)}

Documentation/driver-api/demo-qemu.rst, linked from both driver pages.

Grace
""")
    b.reply(docs, KEVIN, 16, 14, f"""\
{attribution(docs)}
{excerpt(docs, "Opinions?", 0, 0)}

One page per driver works well for us too.

(And sorry for the HTML mail last week, my client is fixed now.)

Kevin
""")

    # --- a pull request, pulled
    tag = "gpio-demo-fixes-0.3"
    b.git("tag", "-a", tag, "-m", "gpio: demo: fixes for 0.3\n\n- an off-by-one in the interrupt "
          "mask check that could disable the\n  whole bank\n- a typo in the driver's header "
          "comment\n", "gpio-fixes", who=DANIEL, when=b.at(15, 9, DANIEL))
    request = b.git("request-pull", base, str(b.repo), tag, who=DANIEL, when=b.at(15, 9, DANIEL))
    request = request.replace(str(b.repo), PULL_URL)
    pull = b.post(DANIEL, b.at(15, 10, DANIEL), "[GIT PULL] gpio: demo: fixes for 0.3", f"""\
Hi Mara,

Two GPIO fixes for 0.3: the interrupt mask check Elena tripped over,
which disabled every interrupt of the bank, and a typo.

{request}
Thanks,
Daniel
""", cc=[SAMIR])
    b.git("checkout", "-q", "main")
    b.git("merge", "-q", "--no-ff", "-m", f"Merge tag '{tag}' of {PULL_URL}\n\nPull GPIO fixes "
          f"from {DANIEL.name}:\n\n- fix the interrupt mask check\n- fix a comment typo",
          tag, who=MARA, when=b.at(16, 8, MARA))
    merge = b.git("rev-parse", "HEAD").strip()
    b.reply(pull, MARA, 16, 9, f"""\
{attribution(pull)}
{excerpt(pull, "are available in the Git repository at", 0, 2)}

Pulled, thanks.

Mara
""")
    b.reply(pull, PRBOT, 16, 10, f"""\
The pull request you sent on {format_datetime(pull.date)}:

> {PULL_URL} tags/{tag}

has been merged into main:
{PULL_URL}/commit/{merge}

Thank you!

{SIG_DASHES}
Deet-doot-dot, I am a bot.
""")

    # --- the maintainer applies v2 and the MAINTAINERS patch (b4 ty form)
    applied_at = b.at(18, 8, MARA)
    b.git("am", "-q", "-s", "--patch-format=mboxrd", who=MARA, when=applied_at,
          stdin=b"".join(to_mboxrd(m.raw) for m in v2[1:]))
    shas = b.git("rev-list", "--reverse", f"{merge}..HEAD").split()
    b.git("am", "-q", "-s", "--patch-format=mboxrd", who=MARA, when=applied_at,
          stdin=to_mboxrd(maint.raw))
    maint_sha = b.git("rev-parse", "HEAD").strip()
    listed = "\n".join(f"[{i}/3] {p.subject.split('] ', 1)[1]}\n      commit: {sha[:12]}"
                       for i, (p, sha) in enumerate(zip(v2[1:], shas, strict=True), 1))
    ty = b.reply(v2_cover, MARA, 18, 9, f"""\
{attribution(v2_cover)}
{excerpt(v2_cover, "The demo clock can gate its output", 0, 2)}

Applied to clk-next, thanks!

{listed}

Best regards,
{SIG_DASHES}
{MARA.address}
""")
    b.reply(maint, MARA, 18, 10, f"""\
{attribution(maint)}
{excerpt(maint, "I have been reviewing", 0, 0)}

Applied to clk-next, thanks!

[1/1] MAINTAINERS: add myself as a reviewer for the demo clock driver
      commit: {maint_sha[:12]}

Best regards,
{SIG_DASHES}
{MARA.address}
""")
    b.reply(ty, TOBIAS, 18, 14, f"""\
{attribution(ty)}
> Applied to clk-next, thanks!

Thank you, and thanks Priya, Grace and Łukasz for the reviews and
testing.

Tobias
""")

    # --- what next
    nxt = b.post(TOBIAS, b.at(19, 9, TOBIAS), "clk: demo: next steps, PLL support?", """\
Hi Mara,

With rate changes in clk-next, the next thing on the demo board is the
PLL in front of the divider (rev C only). I'd model it as a separate
clk_hw with the divider as its child. Does that sound right, or would
you prefer a single composite clock?

Tobias
""", cc=[MARA, PRIYA])
    x1 = b.reply(nxt, MARA, 19, 15, f"""\
{attribution(nxt)}
{excerpt(nxt, "I'd model it as a separate", 0, 2)}

Separate clk_hw, please; composite clocks are hard to reason about
once someone needs to reparent. Keep rev B working without the PLL.

Mara
""")
    x2 = b.reply(x1, PRIYA, 20, 10, f"""\
{attribution(x1)}
{excerpt(x1, "Keep rev B working", 0, 0)}

+1. A "pll" entry in clock-names, optional in the binding, would let
rev B device trees stay as they are.

Priya
""")
    b.reply(x2, TOBIAS, 20, 14, f"""\
{attribution(x2)}
{excerpt(x2, "optional in the binding", 0, 1)}

Makes sense. I'll start with the binding change and send an RFC.

Tobias
""")
    b.git("checkout", "-q", "main")
